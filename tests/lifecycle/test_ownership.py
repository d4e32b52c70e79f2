"""Pruning, foreign files and symlinks (issue 4, item 2)."""

from __future__ import annotations

from lchelpers import labelled


def test_removing_a_registry_removes_exactly_its_files(config):
    assert config.render()[0] == 0
    before = config.snapshot()
    quay = labelled(before, "quay-acme")
    assert quay
    config.edit_registries("registries.yaml", lambda d: d["registries"].remove(next(r for r in d["registries"] if r["name"] == "quay-acme")))
    code, output = config.render()
    assert code == 0, output
    after = config.snapshot()
    assert before.keys() - after.keys() == quay
    assert after.keys() - before.keys() == set()
    for path in quay:
        assert f"R {path}" in output


def test_dropped_cluster_is_removed(config):
    assert config.render()[0] == 0
    config.edit_yaml("clusters.yaml", lambda d: d["clusters"].remove(next(c for c in d["clusters"] if c["name"] == "gov-west")))
    config.edit_registries("registries/cloud.yaml", lambda d: next(r for r in d["registries"] if r["name"] == "ecr-govcloud").update(credentialAccess={"mode": "auto-inject", "clusters": ["prod-*"]}))
    code, output = config.render()
    assert code == 0, output
    assert not (config.out / "gov-west").exists()


def test_foreign_files_are_kept_and_reported(config):
    assert config.render()[0] == 0
    (config.out / "README.md").write_text("ours, not regops'\n")
    (config.out / "prod-eu" / "payments" / "extra.yaml").write_text("kind: ConfigMap\n")
    config.edit_yaml("regops.yaml", lambda d: d.update(chartRefreshInterval="15m"))
    code, output = config.render()
    assert code == 0
    assert "? README.md (not written by regops, left alone)" in output
    assert "? prod-eu/payments/extra.yaml (not written by regops, left alone)" in output
    assert (config.out / "README.md").read_text() == "ours, not regops'\n"
    assert (config.out / "prod-eu" / "payments" / "extra.yaml").read_text() == "kind: ConfigMap\n"


def test_a_foreign_file_in_the_way_is_an_error(config):
    assert config.render()[0] == 0
    target = config.out / "prod-eu" / "payments" / "serviceaccount-default.yaml"
    target.unlink()
    target.write_text("kind: ServiceAccount\n")  # someone else's, no regops label
    state = config.out / "prod-eu" / ".regops-state.json"
    state.write_text(state.read_text().replace('"payments/serviceaccount-default.yaml"', '"payments/other.yaml"'))
    before = config.snapshot()
    code, output = config.render()
    assert code == 1
    assert "payments/serviceaccount-default.yaml exists and was not written by regops" in output
    assert config.snapshot() == before


def test_symlinks_are_never_followed(config, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside\n")
    assert config.render()[0] == 0
    (config.out / "link").symlink_to(outside, target_is_directory=True)
    config.edit_yaml("regops.yaml", lambda d: d.update(chartRefreshInterval="15m"))
    assert config.render()[0] == 0
    assert (config.out / "link").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]

    # a directory regops must write into, replaced by a symlink out of the tree
    payments = config.out / "prod-eu" / "payments"
    for f in payments.iterdir():
        f.unlink()
    payments.rmdir()
    payments.symlink_to(outside, target_is_directory=True)
    code, output = config.render()
    assert code == 1 and "symlink" in output
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
