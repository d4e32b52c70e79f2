"""Tampered inputs: encrypted values moved between keys, registries or files.

sops binds each value to its key path (AES-GCM additional data) and the file's
MAC covers every value in order, so each move must fail decryption: a clear
error naming the file, exit 1, and the previous output tree left exactly as
it was. (Broken MAC, truncation, wrong and missing keys are in
tests/render/test_decrypt_errors.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sechelpers as sh

_ENC_LINE = re.compile(r"^(?P<indent>\s+)(?P<field>password|token|serviceAccountKey|accessKeyId|secretAccessKey): (?P<value>ENC\[[^\n]*\])$", re.MULTILINE)


def encs(path: Path) -> list[re.Match]:
    return list(_ENC_LINE.finditer(path.read_text()))


def replace_values(path: Path, changes: dict[int, str]) -> None:
    """Give the i-th encrypted value of `path` a new ENC text (changes: index -> value)."""
    text = path.read_text()
    found = encs(path)
    for i in sorted(changes, reverse=True):
        m = found[i]
        text = text[: m.start("value")] + changes[i] + text[m.end("value") :]
    path.write_text(text)


def by_field(path: Path, field: str) -> list[int]:
    return [i for i, m in enumerate(encs(path)) if m.group("field") == field]


def swap_two_passwords(config: Path) -> str:
    f = config / "registries.yaml"
    i, j = by_field(f, "password")[:2]
    vals = encs(f)
    replace_values(f, {i: vals[j].group("value"), j: vals[i].group("value")})
    return "registries.yaml"


def token_into_password(config: Path) -> str:
    f = config / "registries.yaml"
    vals = encs(f)
    replace_values(f, {by_field(f, "password")[0]: vals[by_field(f, "token")[0]].group("value")})
    return "registries.yaml"


def copy_password_to_another_registry(config: Path) -> str:
    f = config / "registries.yaml"
    i, j = by_field(f, "password")[:2]
    replace_values(f, {j: encs(f)[i].group("value")})
    return "registries.yaml"


def swap_aws_keys(config: Path) -> str:
    f = config / "registries" / "cloud.yaml"
    vals = encs(f)
    a, s = by_field(f, "accessKeyId")[0], by_field(f, "secretAccessKey")[0]
    replace_values(f, {a: vals[s].group("value"), s: vals[a].group("value")})
    return "cloud.yaml"


def value_from_another_file(config: Path) -> str:
    src, dst = config / "registries" / "cloud.yaml", config / "registries.yaml"
    value = encs(src)[by_field(src, "password")[0]].group("value")
    replace_values(dst, {by_field(dst, "password")[0]: value})
    return "registries.yaml"


def swap_sops_blocks(config: Path) -> str:
    a, b = config / "registries.yaml", config / "registries" / "cloud.yaml"
    ta, tb = a.read_text(), b.read_text()
    ia, ib = ta.index("\nsops:\n"), tb.index("\nsops:\n")
    a.write_text(ta[:ia] + tb[ib:])
    b.write_text(tb[:ib] + ta[ia:])
    return "registries.yaml"


def swap_gcp_keys(config: Path) -> str:
    f = config / "registries" / "cloud.yaml"
    i, j = by_field(f, "serviceAccountKey")[:2]
    vals = encs(f)
    replace_values(f, {i: vals[j].group("value"), j: vals[i].group("value")})
    return "cloud.yaml"


def reorder_registries(config: Path) -> str:
    """Two whole registry entries, secrets included, swapped in place."""
    f = config / "registries.yaml"
    text = f.read_text()
    head, _, rest = text.partition("registries:\n")
    body, _, sops_block = rest.partition("\nsops:\n")
    items = re.split(r"(?m)^(?=    - name: )", body)
    items[1], items[2] = items[2], items[1]
    f.write_text(head + "registries:\n" + "".join(items) + "\nsops:\n" + sops_block)
    return "registries.yaml"


def move_registry_between_files(config: Path) -> str:
    """A whole registry entry (with its ENC values) cut from one file and pasted into the other."""
    src, dst = config / "registries" / "cloud.yaml", config / "registries.yaml"
    s = src.read_text()
    head, _, rest = s.partition("registries:\n")
    body, _, sops_block = rest.partition("\nsops:\n")
    items = re.split(r"(?m)^(?=    - name: )", body)
    moved = next(i for i in items if "name: acr-prod" in i)
    items.remove(moved)
    src.write_text(head + "registries:\n" + "".join(items) + "\nsops:\n" + sops_block)
    d = dst.read_text()
    dst.write_text(d.replace("registries:\n", "registries:\n" + moved, 1))
    return "registries.yaml"


MOVES = {
    "swap-two-passwords": swap_two_passwords,
    "token-into-password": token_into_password,
    "copy-password-to-another-registry": copy_password_to_another_registry,
    "swap-aws-key-id-and-secret": swap_aws_keys,
    "value-from-another-file": value_from_another_file,
    "swap-sops-blocks": swap_sops_blocks,
    "swap-gcp-keys": swap_gcp_keys,
    "reorder-registries": reorder_registries,
    "move-registry-between-files": move_registry_between_files,
}


@pytest.mark.parametrize("move", sorted(MOVES))
def test_moved_value_is_a_clear_error_and_changes_nothing(example_rendered, move):
    config = example_rendered
    out = config / "rendered"
    before = sh.snapshot(out)
    named = MOVES[move](config)
    key = config / "keys" / "config.agekey"
    valid = sh.regops(["validate", "--config", str(config)])
    assert valid.code == 0, valid  # the files still look right: only decryption can tell
    for args in (["render"], ["render", "--check"], ["plan"]):
        run = sh.regops([args[0], "--config", str(config), *args[1:]], key)
        sh.FIGURES["tamper_runs"] += 1
        assert run.code == 1, run
        lines = [line for line in run.stdout.splitlines() if "cannot decrypt" in line]
        assert lines and all(named in line or "cloud.yaml" in line or "registries.yaml" in line for line in lines), run
        assert any(named in line for line in lines), run
        assert "MAC mismatch" in run.stdout or "could not decrypt" in run.stdout or "cannot parse" in run.stdout or "no key" in run.stdout, run
    assert sh.snapshot(out) == before
    assert sh.leftovers(out) == []
