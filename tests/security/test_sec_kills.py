"""SIGKILL at random moments: afterwards the output is exactly the old tree or a complete new one.

Renders run in forked children of this (warm) process, so a kill costs no
interpreter start-up and 100+ kills fit in CI:

1. whole renders of a copy of examples/basic cut to three clusters (flux and
   argocd; every Secret renamed: decrypt, render, seal, stage, swap), killed
   uniformly over their duration, in-process and with regops' worker pool;
2. the write window alone (staging, writes, the swap, the cleanup), where a
   kill can do the most harm: a render is run up to the moment it starts
   writing, and from there continued in a fresh grandchild for every kill.

After each kill the next render must clean what was left beside the output.
"""

from __future__ import annotations

import json
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


def test_sigkill_in_the_write_window(small_example, tmp_path):
    """100 kills while the output is being written: staging, writes, the swap, the cleanup.

    A forked child runs the render; when regops starts writing (it creates its
    staging tree: compiler.output._stage_copy), that child stops and becomes the
    killer: over and over it restores the old tree, forks a grandchild that
    continues the render from exactly that point, and SIGKILLs it at a random
    moment of the write window. Each kill costs a fork and a few milliseconds.
    """
    config = small_example
    tree = config / "rendered"
    pristine = config.parent / "pristine"
    shutil.copytree(tree, pristine, symlinks=True)
    restore(tree, pristine)
    old = fh.tree(tree)
    change_every_secret(config)
    if not hasattr(out_mod, "_stage_copy"):
        pytest.skip("compiler.output._stage_copy (the start of the write phase) no longer exists")
    real_stage_copy = out_mod._stage_copy
    results = tmp_path / "kills.jsonl"
    args = ["render", "--config", str(config)]
    assert sh.regops([*args, "--check"], key_of(config)).code == 1  # warm caches, inherited by the children
    flags = {"grandchild": False}

    def hooked(root):
        if flags["grandchild"]:
            return real_stage_copy(root)
        with open(results, "w", buffering=1) as log:  # line-buffered: grandchildren inherit no pending text
            _kill_loop(log)
        os._exit(0)

    def _continue():
        flags["grandchild"] = True

    def _kill_loop(log):
        import json as _json

        # G0: the reference, never killed
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _continue()
            raise _Resume()
        status = sh.wait(pid)
        window = time.monotonic() - t0
        new = fh.comparable(fh.tree(tree))
        log.write(_json.dumps({"reference": status, "window": window, "consistent": fh.consistent(tree), "changed": new != fh.comparable(old)}) + "\n")
        rng = random.Random(64)
        for _ in range(COMMIT_KILLS):
            out_mod.clean_leftovers(tree)
            restore(tree, pristine)
            pid = os.fork()
            if pid == 0:
                _continue()
                raise _Resume()
            status = kill_after(pid, rng.uniform(0, window * 1.2))
            now = fh.tree(tree)
            outcome = "old" if now == old else ("new" if fh.comparable(now) == new and fh.consistent(tree) else "mixed")
            left = sh.leftovers(tree)
            out_mod.clean_leftovers(tree)
            log.write(_json.dumps({"status": status, "outcome": outcome, "leftovers": bool(left),
                                   "clean_after": sh.leftovers(tree) == [] and (fh.tree(tree) == now or outcome == "mixed")}) + "\n")
            log.flush()

    class _Resume(Exception):
        """Raised in a grandchild to leave the kill loop and carry on with the render (see `hooked`)."""

    def hooked_outer(root):
        try:
            return hooked(root)
        except _Resume:
            return real_stage_copy(root)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(out_mod, "_stage_copy", hooked_outer)
        code = sh.wait(sh.fork(sh.cli_in_child(args, key_of(config))), timeout=240)
    assert code == 0, code
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    reference, kills = lines[0], lines[1:]
    assert reference["reference"] == 0 and reference["consistent"] and reference["changed"], reference
    assert len(kills) == COMMIT_KILLS
    outcomes = {k: sum(1 for x in kills if x["outcome"] == k) for k in ("old", "new", "mixed")}
    outcomes["finished"] = sum(1 for x in kills if x["status"] == 0)
    outcomes["leftovers"] = sum(1 for x in kills if x["leftovers"])
    print("write-window kills", outcomes, f"window {reference['window'] * 1000:.0f} ms")
    sh.FIGURES["sigkills_write_window"] += COMMIT_KILLS
    sh.FIGURES["sigkills_survived"] += outcomes["old"] + outcomes["new"]
    assert outcomes["mixed"] == 0, "a killed render left a tree that is neither the old nor the new one"
    assert all(x["clean_after"] for x in kills), "leftovers were not cleaned, or cleaning changed the tree"
    # the sampling really hit the window: some kills landed before the swap, some after
    assert outcomes["old"] > 0 and outcomes["new"] > 0, outcomes
