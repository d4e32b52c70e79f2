"""Re-renders are byte-identical; changes rewrite only what they affect (issue 4, item 1)."""

from __future__ import annotations

import pyrage

from lchelpers import labelled


def changed(before: dict, after: dict) -> set[str]:
    return {p for p in before.keys() & after.keys() if before[p][0] != after[p][0]}


def test_second_render_writes_nothing(config):
    assert config.render()[0] == 0
    first = config.snapshot()
    code, output = config.render()
    assert code == 0
    assert "0 added, 0 changed, 0 removed" in output
    assert config.snapshot() == first  # bytes, mtimes and inodes: nothing was rewritten


def test_one_password_rewrites_only_that_registrys_files(config):
    assert config.render()[0] == 0
    before = config.snapshot()

    def new_password(data):
        reg = next(r for r in data["registries"] if r["name"] == "quay-acme")
        reg["auth"]["token"] = "rotated-demo-token-not-real"

    config.edit_registries("registries.yaml", new_password)
    assert config.render()[0] == 0
    after = config.snapshot()
    touched = changed(before, after)
    quay = labelled(before, "quay-acme")
    # besides its files, only the render state of the clusters it reaches records new fingerprints
    states = {f"{p.split('/')[0]}/.regops-state.json" for p in quay}
    assert quay and touched == quay | states
    assert before.keys() == after.keys()


def test_reencrypting_a_registries_file_rewrites_nothing(config):
    """sops gives every value a fresh IV on each encryption; the plaintext, not the ciphertext, counts."""
    assert config.render()[0] == 0
    before = config.snapshot()
    old_text = (config.path / "registries.yaml").read_text()
    config.edit_registries("registries.yaml", lambda data: None)
    assert (config.path / "registries.yaml").read_text() != old_text  # new ciphertext, same plaintext
    code, output = config.render()
    assert code == 0 and "0 added, 0 changed, 0 removed" in output
    assert config.snapshot() == before  # not even a render state was rewritten


def test_new_recipient_rewrites_only_that_clusters_secrets(config):
    assert config.render()[0] == 0
    before = config.snapshot()
    extra = str(pyrage.x25519.Identity.generate().to_public())

    def add(data):
        next(c for c in data["clusters"] if c["name"] == "prod-us")["recipients"]["age"].append(extra)

    config.edit_yaml("clusters.yaml", add)
    assert config.render()[0] == 0
    after = config.snapshot()
    touched = changed(before, after) - {"prod-us/.regops-state.json"}
    secrets = {p for p, (data, *_) in before.items() if p.startswith("prod-us/") and b"\nkind: Secret\n" in data}
    assert secrets and touched == secrets
    assert all(extra.encode() in after[p][0] for p in secrets)


def test_hand_edited_files_are_restored_and_only_they(config):
    assert config.render()[0] == 0
    before = config.snapshot()
    repo = config.out / "prod-eu" / "flux-system" / "helmrepository-docker-hub-acme-charts.yaml"
    secret = config.out / "prod-us" / "payments" / "secret-regcred-docker-hub.yaml"
    repo.write_text(repo.read_text().replace("interval: 10m", "interval: 99m"))
    secret.write_text(secret.read_text().replace("type: kubernetes.io/dockerconfigjson", "type: Opaque"))
    code, output = config.render()
    assert code == 0
    assert "C prod-eu/flux-system/helmrepository-docker-hub-acme-charts.yaml" in output
    assert "C prod-us/payments/secret-regcred-docker-hub.yaml" in output
    after = config.snapshot()
    assert after[str(repo.relative_to(config.out))][0] == before[str(repo.relative_to(config.out))][0]
    assert b"type: kubernetes.io/dockerconfigjson" in after[str(secret.relative_to(config.out))][0]
    changed_paths = {p for p in before if before[p][0] != after[p][0]}
    assert changed_paths <= {str(repo.relative_to(config.out)), str(secret.relative_to(config.out)), "prod-us/.regops-state.json"}


def test_cluster_file_counts_are_the_same_rendered_or_skipped(config):
    """A skipped (up-to-date) cluster reports the files it has, as a rendered one does."""
    import re

    def counts(output: str) -> dict[str, str]:
        return dict(re.findall(r"^(\S+): (\d+ files \(\d+ Secrets\))$", output, re.M))

    code, first = config.render()
    assert code == 0
    code, second = config.render()
    assert code == 0
    assert counts(first) and counts(first) == counts(second)
    on_disk = {d.name: sum(1 for p in d.rglob("*") if p.is_file() and p.name != ".regops-state.json") for d in config.out.iterdir() if d.is_dir()}
    assert {name: int(text.split()[0]) for name, text in counts(first).items()} == on_disk
