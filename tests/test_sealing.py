"""compiler.sealing must write files the real, pinned sops binary decrypts and MAC-verifies."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyrage
import pytest
import yaml
from pyrage import x25519

from compiler.sealing import SOPS_VERSION, seal
from compiler.sopsbin import sops_binary_path

ENC = re.compile(r"ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^,]+),type:(\w+)\]")


@pytest.fixture(scope="module")
def keys() -> list[x25519.Identity]:
    return [x25519.Identity.generate() for _ in range(3)]


def pub(identity: x25519.Identity) -> str:
    return str(identity.to_public())


def run_sops(
    tmp_path: Path, args: list[str], identity: x25519.Identity | None = None
) -> subprocess.CompletedProcess[str]:
    # A private HOME keeps any developer keys.txt or .sops.yaml out of the test.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / ".config"),
    }
    if identity is not None:
        env["SOPS_AGE_KEY"] = str(identity)
    return subprocess.run([sops_binary_path(), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


def write(tmp_path: Path, text: str, name: str = "secret.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def sops_decrypt(
    tmp_path: Path, text: str, identity: x25519.Identity, output_type: str = "yaml"
) -> subprocess.CompletedProcess[str]:
    path = write(tmp_path, text)
    return run_sops(tmp_path, ["decrypt", "--input-type", "yaml", "--output-type", output_type, str(path)], identity)


def decrypted(tmp_path: Path, text: str, identity: x25519.Identity, output_type: str = "yaml") -> dict:
    """What sops decrypts ``text`` to; it exits non-zero unless the MAC verifies."""
    result = sops_decrypt(tmp_path, text, identity, output_type)
    assert result.returncode == 0, result.stderr
    if output_type == "json":
        # sops' YAML output is YAML 1.2 (1e-07, !!merge <<) that PyYAML misreads.
        return json.loads(result.stdout)
    return yaml.safe_load(result.stdout)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret(**body: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "registry-creds",
            "namespace": "flux-system",
            "labels": {"app.kubernetes.io/managed-by": "regops", "regops.io/registry": "ghcr"},
        },
        "type": "kubernetes.io/dockerconfigjson",
        **body,
    }


DATA_SECRET = secret(
    data={
        ".dockerconfigjson": b64('{"auths":{"ghcr.io":{"auth":"dXNlcjpzM2NyM3Q="}}}'),
        "token": b64("s3cr3t-t0ken"),
    }
)
STRING_DATA_SECRET = secret(
    stringData={"username": "robot$ci", "password": "hunter2: with colon # and hash", "url": "https://ghcr.io"}
)


@pytest.mark.parametrize("document", [DATA_SECRET, STRING_DATA_SECRET], ids=["data", "stringData"])
def test_real_sops_decrypts_to_the_input(tmp_path: Path, keys: list[x25519.Identity], document: dict) -> None:
    assert decrypted(tmp_path, seal(document, [pub(keys[0])]), keys[0]) == document


def test_sops_d_shorthand_decrypts(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    path = write(tmp_path, seal(DATA_SECRET, [pub(keys[0])]))
    result = run_sops(tmp_path, ["-d", str(path)], keys[0])
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == DATA_SECRET


def test_only_data_is_encrypted(keys: list[x25519.Identity]) -> None:
    text = seal(STRING_DATA_SECRET, [pub(keys[0])])
    sealed = yaml.safe_load(text)
    for key in ("apiVersion", "kind", "metadata", "type"):
        assert sealed[key] == STRING_DATA_SECRET[key]
    for key, value in STRING_DATA_SECRET["stringData"].items():
        assert value not in text
        assert ENC.fullmatch(sealed["stringData"][key])
    data_text = seal(DATA_SECRET, [pub(keys[0])])
    for value in DATA_SECRET["data"].values():
        assert value not in data_text
        assert base64.b64decode(value).decode() not in data_text


def test_sops_metadata_block(keys: list[x25519.Identity]) -> None:
    when = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=timezone(timedelta(hours=2)))
    data_key = bytes(range(32))
    text = seal(DATA_SECRET, [pub(keys[0]), pub(keys[1])], data_key=data_key, lastmodified=when)
    meta = yaml.safe_load(text)["sops"]
    assert list(meta) == ["age", "lastmodified", "mac", "encrypted_regex", "version"]
    assert text.endswith("  version: 3.11.0\n") and meta["version"] == SOPS_VERSION
    assert meta["lastmodified"] == "2025-03-04T03:06:07Z"  # RFC3339 in UTC, seconds only, like sops
    assert meta["encrypted_regex"] == "^(data|stringData)$"
    assert ENC.fullmatch(meta["mac"]).group(4) == "str"
    assert [stanza["recipient"] for stanza in meta["age"]] == [pub(keys[0]), pub(keys[1])]
    for stanza, identity in zip(meta["age"], keys):
        assert stanza["enc"].startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
        assert stanza["enc"].endswith("\n-----END AGE ENCRYPTED FILE-----\n")
        # One age file per recipient, as sops writes it, each holding the raw data key.
        assert pyrage.decrypt(stanza["enc"].encode(), [identity]) == data_key
    assert "enc: |\n" in text  # armored keys as literal blocks, as sops writes them


def test_values_use_fresh_32_byte_ivs(keys: list[x25519.Identity]) -> None:
    text = seal(secret(data={"a": "same", "b": "same"}), [pub(keys[0])])
    values = yaml.safe_load(text)["data"]
    ivs = [base64.b64decode(ENC.fullmatch(v).group(2)) for v in values.values()]
    assert [len(iv) for iv in ivs] == [32, 32] and ivs[0] != ivs[1]
    assert values["a"] != values["b"]


def test_long_values_are_not_wrapped(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    long_value = b64("x" * 3000)
    document = secret(data={"big": long_value}, metadata={"name": "n", "annotations": {"note": "word " * 200}})
    text = seal(document, [pub(keys[0])])
    assert re.search(r"^  big: ENC\[AES256_GCM,data:\S{4000,},iv:\S+,tag:\S+,type:str\]$", text, re.M)
    assert decrypted(tmp_path, text, keys[0]) == document


def test_editing_plaintext_metadata_breaks_the_mac(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    text = seal(DATA_SECRET, [pub(keys[0])])
    assert "  name: registry-creds\n" in text
    result = sops_decrypt(tmp_path, text.replace("  name: registry-creds\n", "  name: evil-creds\n"), keys[0])
    assert result.returncode != 0
    assert "MAC mismatch" in result.stderr


def test_moving_an_encrypted_value_to_another_key_is_refused(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    text = seal(secret(stringData={"username": "robot", "password": "hunter2"}), [pub(keys[0])])
    sealed = yaml.safe_load(text)["stringData"]
    moved = text.replace(sealed["username"], "PLACEHOLDER").replace(sealed["password"], sealed["username"])
    moved = moved.replace("PLACEHOLDER", sealed["password"])
    assert moved != text
    result = sops_decrypt(tmp_path, moved, keys[0])
    assert result.returncode != 0  # the key path is the additional data of each value
    renamed = text.replace("  username: ENC[", "  user: ENC[")
    assert sops_decrypt(tmp_path, renamed, keys[0]).returncode != 0


def test_each_recipient_alone_decrypts_and_no_other_key_does(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    text = seal(DATA_SECRET, [pub(keys[0]), keys[1].to_public()])
    for identity in keys[:2]:
        assert decrypted(tmp_path, text, identity) == DATA_SECRET
    result = sops_decrypt(tmp_path, text, keys[2])
    assert result.returncode != 0
    assert "registry-creds" in text and "dXNlcjpzM2NyM3Q" not in result.stdout


def test_nested_and_typed_values_round_trip(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    document = secret(
        stringData={
            "config": {"retries": 3, "negative": -7, "enabled": True, "disabled": False, "ratio": 1.5, "tiny": 1e-07},
            # sops MACs floats as Go's FormatFloat(v, 'f', -1, 64) spells them.
            "floats": [0.1, 1e22, 1e21, 123456789.123, 5e-324, 1.7976931348623157e308, -2.5e-10, 2.0**-30, -0.0],
            "limits": [2**63 - 1, -(2**63)],
            "hosts": ["a.example", {"port": 5000, "tls": True}, ["x", 2]],
            "empty": "",
            "nothing": None,
            "multiline": "line one\nline two\n",
            "unicode": "pässwörd 🙂",
            "looks_typed": ["08", "1e5", "0o17", "true", "null", "~", "2024-01-01", "1_000", ".5"],
        }
    )
    text = seal(document, [pub(keys[0])])
    types = dict(re.findall(r"^\s+(?:- )?(\w+): ENC\[.*type:(\w+)\]$", text, re.M))
    assert types["retries"] == "int" and types["enabled"] == "bool" and types["ratio"] == "float"
    assert "  empty: ''\n" in text and "  nothing: null\n" in text  # sops leaves these unencrypted
    assert decrypted(tmp_path, text, keys[0], "json") == document


def test_go_yaml_ambiguous_plaintext_keeps_its_type(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    # sops MACs plaintext as go-yaml v3 parses it; any string it would read as
    # a number, bool, null or timestamp must be quoted or the MAC breaks.
    tricky = [
        "08", "0777", "1e5", "1E-3", "0o17", "0O17", "0b101", "-0b11", "0o+7", "0x1F", "_1", "1_000", "+12",
        ".5", ".5e3", "1.", "99999999999999999999", "2024-01-01", "2024-1-2", "2024-01-01T00:00:00Z",
        "true", "True", "yes", "no", "on", "y", "n", "null", "~", "", "<<", ".inf", "-.Inf", ".NaN",
        "1:20", "500m", "1.2.3", "10.0.0.1", "v1.30", "- item", "# not a comment", "key: value", "a #b",
        " leading", "trailing ", "tab\there", "multi\nline", "keep\n\n", "strip\nno-newline", " indented\nblock\n",
        "quote'and\"double", "ünïcødé", "emoji 🙂", "\u2028separator", "nul\x00byte", "bell\x07",
    ]
    annotations = {f"regops.io/t{i}": value for i, value in enumerate(tricky)}
    annotations.update({"08": "key-08", "1e5": "key-1e5", "true": "key-true"})
    document = secret(data={"token": b64("t")}, metadata={"name": "tricky", "annotations": annotations})
    annotations["regops.io/" + "long-key-" * 20] = "long keys are written as complex keys"
    document["metadata"]["labels"] = {
        "n": 1, "f": 2.5, "big": 1e300, "small": 1e-300, "third": 1 / 3, "neg0": -0.0,
        "int64": 2**63 - 1, "b": False, "z": None,
    }
    text = seal(document, [pub(keys[0])])
    assert decrypted(tmp_path, text, keys[0], "json") == document


def test_random_plaintext_strings_survive_go_yaml(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    # Seeded, so it is repeatable; the alphabet is what YAML scalars trip on.
    rng = random.Random(20250301)
    alphabet = "0123456789+-._eExXoObBafyYnN INFnul~<:#'\"\n\t\\!&*?|>%@`,[]{}\u00fc\U0001f642\u2028\x85\r"

    numeric = "0123456789+-._eEoObBx"

    def word(low: int) -> str:
        if rng.random() < 0.5:  # short number-like words are where go-yaml and PyYAML differ
            return "".join(rng.choice(numeric) for _ in range(rng.randint(max(low, 1), 4)))
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, 10)))

    annotations = {f"regops.io/r{i}": word(0) for i in range(1500)}
    labels = {word(1): "key" for _ in range(300)}
    document = secret(data={"token": b64("t")}, metadata={"name": "r", "annotations": annotations, "labels": labels})
    document["stringData"] = {f"s{i}": word(0) for i in range(200)}
    assert decrypted(tmp_path, seal(document, [pub(keys[0])]), keys[0], "json") == document


def test_yaml11_short_bools_are_quoted(keys: list[x25519.Identity]) -> None:
    # go-yaml v2 (older Kubernetes tooling) reads plain y/n as booleans.
    document = {"kind": "Secret", "metadata": {"labels": {"a": "y", "b": "N", "c": "yes", "d": "on"}}}
    text = seal(document, [pub(keys[0])])
    assert "a: 'y'\n" in text and "b: 'N'\n" in text and "c: 'yes'\n" in text and "d: 'on'\n" in text


def test_infinite_floats(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    document = secret(stringData={"up": float("inf"), "down": float("-inf")})
    document["metadata"]["annotations"] = {"regops.io/inf": float("inf")}  # type: ignore[index]
    result = decrypted(tmp_path, seal(document, [pub(keys[0])]), keys[0])
    assert result == document


def test_filestatus_reports_encrypted(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    path = write(tmp_path, seal(DATA_SECRET, [pub(keys[0])]))
    result = run_sops(tmp_path, ["filestatus", str(path)])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"encrypted": True}


def test_custom_encrypted_regex(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    document = {"kind": "Config", "settings": {"password": "p", "user": "u"}, "apiKey": "k"}
    text = seal(document, [pub(keys[0])], encrypted_regex="^(password|apiKey)$")
    sealed = yaml.safe_load(text)
    assert sealed["settings"]["user"] == "u" and ENC.fullmatch(sealed["settings"]["password"])
    assert ENC.fullmatch(sealed["apiKey"]) and sealed["sops"]["encrypted_regex"] == "^(password|apiKey)$"
    assert decrypted(tmp_path, text, keys[0]) == document


def test_key_order_is_kept_and_no_aliases(tmp_path: Path, keys: list[x25519.Identity]) -> None:
    shared = {"x": "1"}
    document = {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "a", "labels": shared, "annotations": shared},
        "stringData": {"z": "1", "a": "2"},
    }
    text = seal(document, [pub(keys[0])])
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "kind", "apiVersion", "metadata", "stringData", "sops"]
    assert "&" not in text.split("sops:")[0] and "*" not in text.split("sops:")[0]
    assert decrypted(tmp_path, text, keys[0]) == document


def test_rejects_what_sops_cannot_represent(keys: list[x25519.Identity]) -> None:
    recipient = [pub(keys[0])]
    with pytest.raises(ValueError):
        seal({**DATA_SECRET, "sops": {}}, recipient)
    with pytest.raises(ValueError):
        seal(DATA_SECRET, [])
    with pytest.raises(ValueError):
        seal(DATA_SECRET, ["not-a-recipient"])
    with pytest.raises(TypeError):
        seal(DATA_SECRET, pub(keys[0]))  # a bare string is not a list of recipients
    with pytest.raises(ValueError):
        seal(DATA_SECRET, recipient, data_key=b"short")
    with pytest.raises(ValueError):
        seal(DATA_SECRET, recipient, lastmodified=datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        seal(secret(data={1: "x"}), recipient)
    with pytest.raises(ValueError):
        seal(secret(data={"n": 2**64}), recipient)
    with pytest.raises(TypeError) as info:
        seal(secret(data={"blob": b"top-secret-bytes"}), recipient)
    assert "top-secret" not in str(info.value)  # errors never carry secret values
