"""The spare tree: the generation a swap replaced, kept beside the output to stage the next one (issue 5).

A change then links and unlinks what differs, not every file of the tree. The
spare must never be committed, never change what a render writes, and never be
a way to write outside the tree.
"""

from __future__ import annotations

import os
import subprocess

from compiler import output as out_mod

from lchelpers import Config


def spare(config: Config):
    return out_mod.spare_dir(config.out)


def files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def inodes(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.lstat().st_ino for p in root.rglob("*") if p.is_file()}


def rotate(config: Config, token: str) -> None:
    def change(data):
        next(r for r in data["registries"] if r["name"] == "quay-acme")["auth"]["token"] = token

    config.edit_registries("registries.yaml", change)


def test_a_change_keeps_the_old_tree_as_spare_and_links_only_what_differs(config, monkeypatch):
    assert config.render()[0] == 0
    first = files(config.out)
    first_dirs = {str(p.relative_to(config.out)): p.lstat().st_ino for p in config.out.rglob("*") if p.is_dir()}
    rotate(config, "rotated-demo-token-one")
    assert config.render()[0] == 0
    # after the swap the spare is exactly the tree before it, plus its marker
    assert {k: v for k, v in files(spare(config)).items() if k != ".gitignore"} == first
    live_before = inodes(config.out)

    links = []
    real_link = os.link
    monkeypatch.setattr(os, "link", lambda *a, **k: (links.append(a[1]), real_link(*a, **k))[1])
    rotate(config, "rotated-demo-token-two")
    code, output = config.render()
    assert code == 0, output
    changed = {p for p, ino in inodes(config.out).items() if live_before.get(p) != ino}
    assert changed  # the rotation rewrote files ...
    # ... and staging linked only what the previous render had changed, not the whole tree
    total = len(inodes(config.out))
    assert 0 < len(links) < total / 3, (len(links), total)
    # the directories are those of the first tree again: the two generations take turns
    assert {str(p.relative_to(config.out)): p.lstat().st_ino for p in config.out.rglob("*") if p.is_dir()} == first_dirs


def test_the_spare_is_ignored_by_git_and_the_output_keeps_its_own_gitignore(config):
    subprocess.run(["git", "init", "-q", str(config.path)], check=True)
    assert config.render()[0] == 0
    (config.out / ".gitignore").write_text("*.tmp\n")  # a foreign file of the user's
    rotate(config, "rotated-demo-token-git")
    code, output = config.render()
    assert code == 0, output
    assert (config.out / ".gitignore").read_text() == "*.tmp\n"
    marker = spare(config) / ".gitignore"
    assert marker.read_bytes() == out_mod._SPARE_IGNORE
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=config.path, capture_output=True, text=True, check=True).stdout
    assert spare(config).name not in status
    assert "rendered/" in status  # the output itself is untracked, so git does look there


def test_a_tampered_spare_never_changes_what_is_rendered_or_writes_outside(config, tmp_path):
    assert config.render()[0] == 0
    rotate(config, "rotated-demo-token-a")
    assert config.render()[0] == 0
    s = spare(config)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = next(p for p in s.rglob("secret-*.yaml"))
    victim.unlink()
    victim.write_text("tampered\n")  # a different file where a link was
    (s / "stray.yaml").write_text("left here\n")
    cluster_dir = next(p for p in s.iterdir() if p.is_dir())
    os.rename(cluster_dir, tmp_path / "moved-away")
    os.symlink(outside, cluster_dir)  # a symlink planted where a cluster directory was
    rotate(config, "rotated-demo-token-b")
    code, output = config.render()
    assert code == 0, output
    assert list(outside.iterdir()) == []
    assert config.render("--check")[0] == 0
    fresh = Config(config.path)
    # the same inputs rendered into a fresh output give the same files (sealed bytes aside)
    code, _ = fresh.render("--output", str(tmp_path / "fresh"))
    assert code == 0
    live, other = files(config.out), files(tmp_path / "fresh")
    assert live.keys() == other.keys()
    assert "stray.yaml" not in live and all(b"tampered" not in v for v in live.values())


def test_a_spare_that_is_a_symlink_is_replaced_not_followed(config, tmp_path):
    assert config.render()[0] == 0
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    os.symlink(target, spare(config))
    rotate(config, "rotated-demo-token-c")
    code, output = config.render()
    assert code == 0, output
    assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
    assert spare(config).is_dir() and not spare(config).is_symlink()
    assert config.render("--check")[0] == 0


def test_a_failed_render_removes_the_spare_it_was_staging(config, monkeypatch):
    assert config.render()[0] == 0
    rotate(config, "rotated-demo-token-d")
    assert config.render()[0] == 0
    assert spare(config).is_dir()
    before = files(config.out)

    def broken(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(out_mod, "_exchange", broken)
    rotate(config, "rotated-demo-token-e")
    code, output = config.render()
    assert code == 1 and "No space left on device" in output, output
    assert files(config.out) == before
    assert not os.path.lexists(spare(config))
