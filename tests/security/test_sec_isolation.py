"""Isolation at scale: on a generated fleet, each cluster's Secrets open with its key and no other,
and no cluster's directory mentions a registry that is not available to it.
"""

from __future__ import annotations

import base64
import fnmatch
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sechelpers as sh
import yaml

REGISTRIES, CLUSTERS, NAMESPACES = 8, 12, 2


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    generated = sh.fleet_module().generate(tmp_path_factory.mktemp("fleet-iso") / "cfg", registries=REGISTRIES,
                                           clusters=CLUSTERS, namespaces=NAMESPACES, seed=12)
    # module scope: set up before the function-scoped `single_process` fixture, so this is the default
    # path, with clusters rendered and sealed by regops' worker pool
    run = sh.regops(["render", "--config", str(generated.outdir)], generated.outdir / "keys" / "config.agekey")
    assert run.code == 0, run
    return generated


def available(fleet) -> dict[str, set[str]]:
    names = [c["name"] for c in fleet.clusters]
    out = {n: set() for n in names}
    for reg in fleet.registries:
        access = reg.get("credentialAccess")
        if not access:
            continue
        hit = {n for n in names if any(fnmatch.fnmatchcase(n, p) for p in access.get("clusters", []))}
        chosen = hit if access["mode"] == "auto-inject" else set(names) - hit
        for n in chosen:
            out[n].add(reg["name"])
    return out


def sealed_files(cluster_dir: Path) -> list[Path]:
    return sorted(p for p in cluster_dir.rglob("*.yaml") if b"\nsops:\n" in p.read_bytes())


def mentions(text: str, registry: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(registry)}(?![a-z0-9])", text) is not None


def test_every_secret_is_sealed_for_exactly_its_cluster(fleet):
    out = fleet.outdir / "rendered"
    total = 0
    for cluster in fleet.clusters:
        files = sealed_files(out / cluster["name"])
        for f in files:
            doc = yaml.safe_load(f.read_text())
            assert doc["kind"] == "Secret", f
            assert sorted(e["recipient"] for e in doc["sops"]["age"]) == sorted(cluster["recipients"]["age"]), f
            assert doc["sops"]["encrypted_regex"] == "^(data|stringData)$"
            for field in ("data", "stringData"):
                for key, value in (doc.get(field) or {}).items():
                    assert value == "" or str(value).startswith("ENC[AES256_GCM,"), f"{f}: {field}.{key} is not encrypted"
        total += len(files)
        # every non-sealed object is not a Secret
        for p in (out / cluster["name"]).rglob("*.yaml"):
            if p not in files:
                assert "\nkind: Secret\n" not in "\n" + p.read_text(), p
    sh.FIGURES["isolation_secrets_recipient_checked"] += total
    assert total > 0


def test_secrets_decrypt_with_their_cluster_key_and_no_other(fleet):
    out = fleet.outdir / "rendered"
    keys = {c["name"]: fleet.outdir / "keys" / f"{c['name']}.agekey" for c in fleet.clusters}
    names = sorted(keys)
    rng = random.Random(12)
    jobs = []
    for i, name in enumerate(names):
        files = sealed_files(out / name)
        assert files, f"{name} has no Secret to check"
        for f in rng.sample(files, min(2, len(files))):
            jobs.append((f, keys[name], True))
        others = [n for n in names if n != name]
        for other in rng.sample(others, min(2, len(others))):
            jobs.append((rng.choice(files), keys[other], False))
        jobs.append((rng.choice(files), fleet.outdir / "keys" / "config.agekey", False))

    def attempt(job):
        f, key, _ = job
        proc = sh.sops(["decrypt", "--output-type", "json", str(f)], key)
        return job, proc

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(attempt, jobs))
    for (f, key, should), proc in results:
        if should:
            assert proc.returncode == 0, f"{f} does not decrypt with its cluster's key: {proc.stderr[-300:]!r}"
            sh.FIGURES["isolation_decrypted_with_own_key"] += 1
        else:
            assert proc.returncode != 0, f"{f} decrypts with {key.name}"
            sh.FIGURES["isolation_refused_other_key"] += 1


def test_no_cluster_mentions_a_registry_not_available_to_it(fleet):
    out = fleet.outdir / "rendered"
    reach = available(fleet)
    every = {r["name"] for r in fleet.registries}
    checked = 0
    for cluster in fleet.clusters:
        name = cluster["name"]
        absent = every - reach[name]
        for p in sorted((out / name).rglob("*")):
            if not p.is_file():
                continue
            text = sh.plaintext_parts(p.read_text())
            for reg in absent:
                assert not mentions(text, reg) and reg not in p.name, f"{p} mentions {reg}, which is not available to {name}"
            checked += 1
    sh.FIGURES["isolation_files_scanned"] += checked
    # and the decrypted content of a sample of Secrets as well
    rng = random.Random(13)
    for cluster in fleet.clusters:
        files = sealed_files(out / cluster["name"])
        for f in rng.sample(files, min(1, len(files))):
            plain = sh.sops_decrypt_json(f, fleet.outdir / "keys" / f"{cluster['name']}.agekey")
            text = yaml.safe_dump(plain)
            for value in (plain.get("data") or {}).values():
                text += base64.b64decode(value).decode("utf-8", "replace")
            for reg in every - reach[cluster["name"]]:
                assert not mentions(text, reg), f"{f} (decrypted) mentions {reg}"


def test_every_available_private_registry_reaches_every_namespace(fleet):
    """The other direction: isolation did not simply drop registries."""
    out = fleet.outdir / "rendered"
    reach = available(fleet)
    by_name = {r["name"]: r for r in fleet.registries}
    for cluster in fleet.clusters:
        for reg_name in reach[cluster["name"]]:
            reg = by_name[reg_name]
            access = reg.get("credentialAccess") or {}
            if reg.get("type") == "public" or access.get("source") == "image-pull-secret":
                continue
            if reg["provider"] == "ecr" and reg["auth"].get("method") == "iam-role":
                continue
            kind = "externalsecret" if reg["provider"] == "ecr" else "secret"
            for ns in cluster["namespaces"]:
                assert (out / cluster["name"] / ns / f"{kind}-regcred-{reg_name}.yaml").is_file(), (cluster["name"], ns, reg_name)
