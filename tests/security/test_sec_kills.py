"""SIGKILL at random moments: afterwards the output is exactly the old tree or a complete new one.

Renders run in forked children of this (warm) process, so a kill costs no
interpreter start-up and 100+ kills fit in CI:

1. whole renders of a copy of examples/basic cut to three clusters (flux and
   argocd; every Secret renamed: decrypt, render, seal, stage, swap), killed
   uniformly over their duration, in-process and with regops' worker pool;
2. the commit window alone (staging, writes, the swap, the cleanup), where a
   kill can do the most harm: the render is computed once, and each child only
   commits it over a fresh copy of the old tree, so "new" is known byte for byte.

After each kill the next render must clean what was left beside the output.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

import faulthelpers as fh
import pytest
import sechelpers as sh

from compiler import output as out_mod

WHOLE_KILLS = int(os.environ.get("REGOPS_WHOLE_KILLS", "25"))
POOL_KILLS = int(os.environ.get("REGOPS_POOL_KILLS", "8"))
COMMIT_KILLS = int(os.environ.get("REGOPS_COMMIT_KILLS", "100"))


def key_of(config: Path) -> Path:
    return config / "keys" / "config.agekey"


def change_every_secret(config: Path) -> None:
    f = config / "regops.yaml"
    f.write_text(f.read_text().replace("secretNamePrefix: regcred-", "secretNamePrefix: pull-"))


def restore(tree: Path, pristine: Path) -> None:
    """The old tree again. Hard links are enough (and fast): regops never writes into an existing file,
    and if it ever did, the old-tree comparisons below would catch the change."""
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(pristine, tree, symlinks=True, copy_function=os.link)


@pytest.fixture
def small_example(tmp_path):
    """examples/basic with three of its clusters (prod-us flux, dev-sandbox argocd, gov-west), rendered."""
    config = sh.copy_example(tmp_path / "cfg")
    doc = sh.load_yaml(config / "clusters.yaml")
    doc["clusters"] = [c for c in doc["clusters"] if c["name"] in ("prod-us", "dev-sandbox", "gov-west")]
    sh.dump_yaml(config / "clusters.yaml", doc)
    run = sh.regops(["render", "--config", str(config)], key_of(config))
    assert run.code == 0, run
    return config


def kill_after(pid: int, delay: float) -> int:
    time.sleep(delay)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return sh.wait(pid)


def _whole_render_kills(config: Path, kills: int, seed: int) -> dict[str, int]:
    tree = config / "rendered"
    pristine = config.parent / "pristine"
    shutil.copytree(tree, pristine, symlinks=True)
    restore(tree, pristine)
    old = fh.tree(tree)
    config_files = sh.snapshot(config / "registries")
    change_every_secret(config)
    args = ["render", "--config", str(config)]
    assert sh.regops([*args, "--check"], key_of(config)).code == 1  # warms this process's caches for the children

    # reference: the new tree, and how long a render takes in a child
    t0 = time.monotonic()
    assert sh.wait(sh.fork(sh.cli_in_child(args, key_of(config)))) == 0
    duration = time.monotonic() - t0
    new = fh.comparable(fh.tree(tree))
    assert new != fh.comparable(old)

    rng = random.Random(seed)
    outcomes = {"old": 0, "new": 0, "finished": 0, "leftovers": 0}
    for _ in range(kills):
        restore(tree, pristine)
        pid = sh.fork(sh.cli_in_child(args, key_of(config)))
        status = kill_after(pid, rng.uniform(0, duration * 1.2))
        now = fh.tree(tree)
        if status == 0:
            outcomes["finished"] += 1
        if now == old:
            outcomes["old"] += 1
        else:
            assert fh.comparable(now) == new and fh.consistent(tree), "a killed render left a mixed tree"
            outcomes["new"] += 1
        outcomes["leftovers"] += bool(sh.leftovers(tree))
        out_mod.clean_leftovers(tree)
        assert sh.leftovers(tree) == []
    assert sh.snapshot(config / "registries") == config_files
    # after all that, a normal render converges
    assert sh.regops(args, key_of(config)).code == 0
    assert fh.comparable(fh.tree(tree)) == new
    return outcomes


def test_sigkill_during_whole_renders(small_example):
    outcomes = _whole_render_kills(small_example, WHOLE_KILLS, seed=61)
    print("whole-render kills", outcomes)
    sh.FIGURES["sigkills_whole_render"] += WHOLE_KILLS
    sh.FIGURES["sigkills_survived"] += WHOLE_KILLS
    assert outcomes["old"] + outcomes["new"] == WHOLE_KILLS


@pytest.mark.pool
def test_sigkill_during_whole_renders_with_worker_pool(small_example):
    """The default: clusters rendered in worker processes, which must die with the killed render."""
    outcomes = _whole_render_kills(small_example, POOL_KILLS, seed=62)
    print("pool-render kills", outcomes)
    sh.FIGURES["sigkills_whole_render_pool"] += POOL_KILLS
    sh.FIGURES["sigkills_survived"] += POOL_KILLS
    assert outcomes["old"] + outcomes["new"] == POOL_KILLS


def test_sigkill_in_the_commit_window(small_example, monkeypatch):
    config = small_example
    tree = config / "rendered"
    pristine = config.parent / "pristine"
    shutil.copytree(tree, pristine, symlinks=True)
    restore(tree, pristine)
    old = fh.tree(tree)
    change_every_secret(config)

    # compute the render once, without committing it
    real_commit = out_mod.OutputTree.commit
    captured = []
    monkeypatch.setattr(out_mod.OutputTree, "commit", lambda self: captured.append(self))
    assert sh.regops(["render", "--config", str(config)], key_of(config)).code == 0
    (pending,) = captured

    # the new tree, byte for byte, and how long a commit takes
    t0 = time.monotonic()
    real_commit(pending)
    duration = time.monotonic() - t0
    new = fh.tree(tree)
    assert new != old and fh.consistent(tree)

    rng = random.Random(63)
    outcomes = {"old": 0, "new": 0, "finished": 0, "leftovers": 0}
    for _ in range(COMMIT_KILLS):
        restore(tree, pristine)
        pid = sh.fork(lambda: real_commit(pending))
        status = kill_after(pid, rng.uniform(0, duration * 1.5))
        now = fh.tree(tree)
        outcomes["finished"] += status == 0
        if now == old:
            outcomes["old"] += 1
        else:
            assert now == new, "a commit killed midway left a tree that is neither the old nor the new one"
            outcomes["new"] += 1
        outcomes["leftovers"] += bool(sh.leftovers(tree))
        out_mod.clean_leftovers(tree)
        assert sh.leftovers(tree) == [] and fh.tree(tree) == now
    print("commit-window kills", outcomes, f"commit takes {duration * 1000:.1f} ms")
    sh.FIGURES["sigkills_commit_window"] += COMMIT_KILLS
    sh.FIGURES["sigkills_survived"] += COMMIT_KILLS
    # the sampling really hit the window: some kills landed before the swap, some after, some midway
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
    assert outcomes["finished"] < COMMIT_KILLS
