"""Faults: a full disk midway, a read-only output, concurrent renders, symlinks and crafted state out of the tree.

In every case the output is the old tree or the new complete one, nothing
outside the output directory is written or removed, and the error is clear.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import faulthelpers as fh
import pytest
import sechelpers as sh

from compiler import output as out_mod
from compiler import state as st


def key_of(config: Path) -> Path:
    return config / "keys" / "config.agekey"


def change_every_secret(config: Path) -> None:
    f = config / "regops.yaml"
    f.write_text(f.read_text().replace("secretNamePrefix: regcred-", "secretNamePrefix: pull-"))


def render(config: Path, *args: str) -> sh.Run:
    return sh.regops(["render", "--config", str(config), *args], key_of(config))


def outside_snapshot(root: Path) -> dict:
    """Every file under `root` (bytes, mtime), to prove nothing there was written or removed."""
    return sh.snapshot(root)


# --------------------------------------------------------------------------- a write that fails midway


@pytest.fixture
def enospc(monkeypatch):
    """Make compiler.output._write fail with ENOSPC once `after` files were written."""
    real = out_mod._write
    state = {"after": 0, "calls": 0}

    def write(*args, **kwargs):
        state["calls"] += 1
        if state["calls"] > state["after"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(out_mod, "_write", write)
    return state


@pytest.mark.parametrize("after", [0, 1, 17, 40])
def test_disk_full_midway_keeps_the_old_tree_and_cleans_staging(example_rendered, enospc, after):
    config = example_rendered
    tree = config / "rendered"
    before = sh.snapshot(tree)
    config_before = sh.snapshot(config / "registries")
    change_every_secret(config)
    enospc["after"] = after
    run = render(config)
    sh.FIGURES["enospc_runs"] += 1
    assert run.code != 0, run
    assert "No space left on device" in run.output or "ENOSPC" in run.output or "internal error (OSError)" in run.output, run
    assert sh.snapshot(tree) == before, "a failed write changed the live tree"
    assert sh.leftovers(tree) == [], "the staging tree was left behind"
    assert sh.snapshot(config / "registries") == config_before
    # and the next render, with space again, converges
    enospc["after"] = 10**9
    assert render(config).code == 0
    assert render(config, "--check").code == 0


def test_disk_full_is_a_clear_error_with_exit_1(example_rendered, enospc):
    change_every_secret(example_rendered)
    enospc["after"] = 5
    run = render(example_rendered)
    assert run.code == 1, run
    assert "No space left on device" in run.output and str(example_rendered / "rendered") in run.output, run


# --------------------------------------------------------------------------- a read-only output directory


def _render_without_bypass(config: Path, tmpdir: Path, result: Path) -> int:
    """Fork; in the child drop root's permission bypass, then run `regops render` (exit code, output in `result`)."""

    def child() -> int:
        if not fh.drop_permission_bypass():
            return 97
        tempfile.tempdir = str(tmpdir)  # the lock file: somewhere writable
        return sh.cli_in_child(["render", "--config", str(config)], key_of(config), result)()

    return sh.wait(sh.fork(child))


@pytest.fixture
def bypass_dropped_works(tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o555)

    def child() -> int:
        if not fh.drop_permission_bypass():
            return 97
        try:
            (probe / "x").write_text("x")
        except PermissionError:
            return 0
        return 98

    code = sh.wait(sh.fork(child))
    probe.chmod(0o755)
    if code != 0:
        pytest.skip("cannot make mode bits binding here (running as root and capabilities cannot be dropped)")


def _read_only_render(config: Path, tmp_path: Path, what: str) -> tuple[int, str]:
    tree = config / "rendered"
    locks = tmp_path / "locks"
    locks.mkdir()
    chmodded = [config] if what == "parent-0555" else [tree, *[p for p in tree.rglob("*") if p.is_dir()]]
    modes = {p: p.stat().st_mode for p in chmodded}
    for p in chmodded:
        p.chmod(0o555)
    try:
        code = _render_without_bypass(config, locks, tmp_path / "result.txt")
    finally:
        for p, mode in modes.items():
            p.chmod(stat.S_IMODE(mode))
    sh.FIGURES["read_only_runs"] += 1
    return code, (tmp_path / "result.txt").read_text()


@pytest.mark.parametrize("what", ["parent-0555", "tree-0555"])
def test_read_only_output_keeps_the_old_tree(example_rendered, tmp_path, bypass_dropped_works, what):
    config = example_rendered
    tree = config / "rendered"
    before = sh.snapshot(tree)
    change_every_secret(config)
    code, output = _read_only_render(config, tmp_path, what)
    assert code in (0, 1, 3), output
    if code == 0:
        # a read-only tree can still be replaced by a swap in a writable parent: then it must be the complete new tree
        assert fh.consistent(tree) and render(config, "--check").code == 0
    else:
        assert sh.snapshot(tree) == before, output
        assert "Traceback" not in output


def test_read_only_tree_leaves_no_staging_behind(example_rendered, tmp_path, bypass_dropped_works):
    config = example_rendered
    change_every_secret(config)
    _code, output = _read_only_render(config, tmp_path, "tree-0555")
    assert sh.leftovers(config / "rendered") == [], output


def test_read_only_output_is_a_clear_error_with_exit_1(example_rendered, tmp_path, bypass_dropped_works):
    config = example_rendered
    change_every_secret(config)
    locks = tmp_path / "locks"
    locks.mkdir()
    config.chmod(0o555)
    try:
        code = _render_without_bypass(config, locks, tmp_path / "result.txt")
    finally:
        config.chmod(0o755)
    output = (tmp_path / "result.txt").read_text()
    assert code == 1 and "ermission denied" in output, output


# --------------------------------------------------------------------------- concurrent renders


def test_three_concurrent_renders_with_wait(example_rendered, tmp_path):
    config = example_rendered
    tree = config / "rendered"
    change_every_secret(config)
    results = [tmp_path / f"r{i}.txt" for i in range(3)]
    pids = [sh.fork(sh.cli_in_child(["render", "--config", str(config), "--wait"], key_of(config), r)) for r in results]
    codes = [sh.wait(p) for p in pids]
    outputs = [r.read_text() for r in results]
    sh.FIGURES["concurrent_renders"] += 3
    assert codes == [0, 0, 0], outputs
    assert fh.consistent(tree)
    assert render(config, "--check").code == 0
    assert sh.leftovers(tree) == []
    # exactly one of them did the work; the others found the tree up to date
    assert sum("0 added, 0 changed, 0 removed" in o for o in outputs) == 2, outputs


def test_three_concurrent_renders_without_wait_fail_clearly(example_rendered, tmp_path):
    config = example_rendered
    tree = config / "rendered"
    change_every_secret(config)
    results = [tmp_path / f"r{i}.txt" for i in range(3)]
    pids = [sh.fork(sh.cli_in_child(["render", "--config", str(config)], key_of(config), r)) for r in results]
    codes = [sh.wait(p) for p in pids]
    outputs = [r.read_text() for r in results]
    sh.FIGURES["concurrent_renders"] += 3
    assert set(codes) <= {0, 1} and 0 in codes, outputs
    for code, text in zip(codes, outputs):
        if code == 1:
            assert "is being rendered by pid" in text and "--wait" in text, text
    assert fh.consistent(tree) and render(config, "--check").code == 0
    assert sh.leftovers(tree) == []


# --------------------------------------------------------------------------- symlinks and crafted state pointing out of the tree


def _link_dir(link: Path, outside: Path) -> None:
    shutil.copytree(link, outside)
    shutil.rmtree(link)
    link.symlink_to(outside, target_is_directory=True)


def _link_file(link: Path, outside: Path) -> None:
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(link, outside)
    link.unlink()
    link.symlink_to(outside)


SYMLINKS = {
    "cluster-dir": lambda tree, outside: _link_dir(tree / "prod-eu", outside / "prod-eu"),
    "namespace-dir": lambda tree, outside: _link_dir(tree / "prod-eu" / "payments", outside / "payments"),
    "secret-file": lambda tree, outside: _link_file(tree / "prod-eu" / "payments" / "secret-regcred-docker-hub.yaml", outside / "secret.yaml"),
    "serviceaccount-file": lambda tree, outside: _link_file(tree / "prod-us" / "payments" / "serviceaccount-default.yaml", outside / "sa.yaml"),
    "cluster-state": lambda tree, outside: _link_file(tree / "staging" / st.STATE_FILE, outside / "state.json"),
    "root-state": lambda tree, outside: _link_file(tree / st.STATE_FILE, outside / "root-state.json"),
    "key-file": lambda tree, outside: _link_file(tree / st.KEY_FILE, outside / "key.yaml"),
    "catalog": lambda tree, outside: _link_file(tree / "catalog.json", outside / "catalog.json"),
    "kustomization": lambda tree, outside: _link_file(tree / "gov-west" / "kustomization.yaml", outside / "kustomization.yaml"),
    "foreign-dir-link": lambda tree, outside: (tree / "extra").symlink_to(outside, target_is_directory=True),
    "leftover-named-link": lambda tree, outside: (tree.parent / ".rendered.regops-new-evil").symlink_to(outside, target_is_directory=True),
}


@pytest.mark.parametrize("where", sorted(SYMLINKS))
def test_symlink_out_of_the_tree_is_never_written_through(example_rendered, tmp_path, where):
    config = example_rendered
    tree = config / "rendered"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("must stay\n")
    SYMLINKS[where](tree, outside)
    seen = outside_snapshot(outside)
    change_every_secret(config)
    for args in ((), ("--check",), ()):
        run = render(config, *args)
        sh.FIGURES["symlink_runs"] += 1
        assert run.code in (0, 1), run
        assert run.code == 0 or "symlink" in run.output or "not written by regops" in run.output, run
        assert outside_snapshot(outside) == seen, f"{where}: something outside the output was written or removed"
    assert sh.leftovers(tree) == [] or where == "leftover-named-link"


def _add_state_entry(state_file: Path, rel: str) -> None:
    doc = json.loads(state_file.read_text())
    doc["files"][rel] = {"sha256": "0" * 64}
    state_file.write_text(json.dumps(doc, indent=1) + "\n")


def test_state_entry_cannot_delete_files_outside_the_tree(example_rendered):
    config = example_rendered
    victim = config / "victim.txt"  # e.g. clusters.yaml, or anything the CI user can delete
    victim.write_text("outside the output tree\n")
    _add_state_entry(config / "rendered" / "gov-west" / st.STATE_FILE, "../../victim.txt")
    run = render(config)
    assert victim.exists(), f"render deleted {victim}: {run}"
    assert run.code in (0, 1), run


def test_state_entry_with_an_absolute_path_deletes_nothing(example_rendered, tmp_path):
    config = example_rendered
    victim = tmp_path / "victim.txt"
    victim.write_text("outside the output tree\n")
    _add_state_entry(config / "rendered" / "gov-west" / st.STATE_FILE, str(victim))
    run = render(config)
    assert victim.exists(), run
    sh.FIGURES["crafted_state_runs"] += 1


def test_state_entry_with_an_absolute_path_is_not_an_internal_error(example_rendered, tmp_path):
    config = example_rendered
    _add_state_entry(config / "rendered" / "gov-west" / st.STATE_FILE, str(tmp_path / "elsewhere.txt"))
    (tmp_path / "elsewhere.txt").write_text("x")
    assert render(config).code in (0, 1)


def test_root_state_cluster_entry_cannot_reach_outside_the_tree(example_rendered):
    config = example_rendered
    victim_dir = config / "outside"
    victim_dir.mkdir()
    (victim_dir / "important.txt").write_text("keep me\n")
    (victim_dir / st.STATE_FILE).write_text(json.dumps({"apiVersion": "regops.io/v1alpha1", "kind": "RenderState",
                                                        "files": {"important.txt": {"sha256": "0" * 64}}}))
    root_state = config / "rendered" / st.STATE_FILE
    doc = json.loads(root_state.read_text())
    doc["clusters"].append("../outside")
    root_state.write_text(json.dumps(doc, indent=1) + "\n")
    run = render(config)
    assert (victim_dir / "important.txt").exists(), f"render deleted a file outside the output: {run}"


def _lock_path(output: Path) -> Path:
    real = os.path.realpath(output)
    digest = hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"regops-{digest}.lock"


def test_planted_lock_symlink_does_not_clobber_its_target(example_rendered, tmp_path):
    config = example_rendered
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    lock = _lock_path(config / "rendered")
    lock.unlink(missing_ok=True)
    lock.symlink_to(victim)
    try:
        render(config)
    finally:
        lock.unlink(missing_ok=True)
    assert victim.read_text() == "precious\n"
