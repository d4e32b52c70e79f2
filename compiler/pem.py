"""Checks that a caCertificate is PEM-encoded X.509, without a crypto library.

Validation runs in pre-commit hooks and must start fast, so instead of loading
`cryptography` we check the PEM armour, the base64 and the outer DER shape of
each certificate (SEQUENCE { tbsCertificate SEQUENCE, algorithm SEQUENCE, BIT STRING }).
"""

from __future__ import annotations

import base64
import binascii
import re

_BEGIN = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----")
_END = re.compile(r"-----END ([A-Z0-9 ]+)-----")


def _blocks(text: str) -> tuple[list[tuple[str, str]], bool]:
    """(label, base64 body) of each PEM block, and whether every BEGIN had its END.

    One pass over the lines: linear in the input, whatever it holds (a regex
    over the whole text was quadratic in unclosed BEGIN lines).
    """
    blocks: list[tuple[str, str]] = []
    label: str | None = None
    body: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if label is None:
            m = _BEGIN.fullmatch(line)
            if m:
                label, body = m.group(1), []
            elif "-----BEGIN" in line:
                return blocks, False
        else:
            m = _END.fullmatch(line)
            if m:
                if m.group(1) != label:
                    return blocks, False
                blocks.append((label, "".join(body)))
                label = None
            elif "-----" in line:
                return blocks, False
            else:
                body.append(line)
    return blocks, label is None


def check_certificates(text: str) -> tuple[int, str | None]:
    """Return (number of certificates, error or None)."""
    if "-----BEGIN" not in text:
        return 0, "is not PEM: no -----BEGIN CERTIFICATE----- block"
    blocks, closed = _blocks(text)
    if not closed:
        return 0, "has a PEM block without its matching -----END line"
    count = 0
    for i, (label, body) in enumerate(blocks, 1):
        if "PRIVATE KEY" in label:
            return 0, f"block {i} is a {label}, not a certificate: remove it from the config (it is not encrypted)"
        if label != "CERTIFICATE":
            return 0, f"block {i} is {label}, expected CERTIFICATE"
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            return 0, f"certificate {i} is not valid base64"
        problem = _der_certificate(der)
        if problem:
            return 0, f"certificate {i} {problem}"
        count += 1
    return count, None


def _read(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at pos."""
    if pos + 2 > len(der):
        raise ValueError
    tag = der[pos]
    length = der[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(der):
            raise ValueError
        length = int.from_bytes(der[pos : pos + n], "big")
        pos += n
    if pos + length > len(der):
        raise ValueError
    return tag, pos, pos + length


def _der_certificate(der: bytes) -> str | None:
    try:
        tag, start, end = _read(der, 0)
        if tag != 0x30 or end != len(der):
            return "is not a DER certificate"
        tags = []
        pos = start
        while pos < end:
            t, s, e = _read(der, pos)
            tags.append(t)
            pos = e
    except ValueError:
        return "is truncated or not DER"
    if tags != [0x30, 0x30, 0x03]:
        return "is not an X.509 certificate"
    return None
