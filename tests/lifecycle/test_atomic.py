"""Renders killed at random moments, and concurrent renders (issue 4, items 3 and 7).

After a SIGKILL the output is either exactly the old tree or a complete new
one. A new tree cannot be compared byte for byte (sealing draws fresh keys),
so "complete new" means: the same paths as a reference render of the new
config, identical bytes for every non-secret file, identical fingerprints in
the render state, and each Secret matching the state's sha256.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from treekit import consistent

from compiler import state as st

KILLS = int(os.environ.get("REGOPS_KILLS", "24"))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def comparable(files: dict[str, bytes]) -> dict[str, object]:
    """A tree with ciphertext replaced by what the state says about it."""
    out: dict[str, object] = {}
    for path, data in files.items():
        if path.endswith(st.STATE_FILE):
            doc = json.loads(data)
            out[path] = {k: v.get("hmac") or v["sha256"] for k, v in doc["files"].items()}
        elif b"\nsops:\n" in data:
            out[path] = "sealed"
        else:
            out[path] = data
    return out


def render_cmd(config) -> list[str]:
    return [sys.executable, "-m", "compiler", "render", "--config", str(config.path)]


def env_for(config) -> dict[str, str]:
    return dict(os.environ, SOPS_AGE_KEY_FILE=str(config.key), SOPS_DISABLE_VERSION_CHECK="1")


def test_sigkill_at_random_moments_leaves_old_or_new_tree(config, tmp_path):
    assert config.render()[0] == 0
    old = tree(config.out)
    pristine = tmp_path / "pristine"
    shutil.copytree(config.out, pristine, symlinks=True)

    # The new config renames every Secret: a render with real work in it.
    config.edit_yaml("regops.yaml", lambda d: d.update(secretNamePrefix="pull-"))
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    t0 = time.monotonic()
    subprocess.run(render_cmd(config) + ["--output", str(reference)], env=env_for(config), check=True, capture_output=True)
    duration = time.monotonic() - t0
    new = comparable(tree(reference))

    rng = random.Random(4242)
    outcomes = {"old": 0, "new": 0}
    for _ in range(KILLS):
        shutil.rmtree(config.out)
        shutil.copytree(pristine, config.out, symlinks=True)
        proc = subprocess.Popen(render_cmd(config), env=env_for(config), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # half the kills anywhere, half near the end where the tree is staged and swapped
        low = 0.0 if _ % 2 else duration * 0.7
        time.sleep(rng.uniform(low, duration * 1.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = tree(config.out)
        if now == old:
            outcomes["old"] += 1
        else:
            assert comparable(now) == new and consistent(config.out), "a killed render left a mixed tree"
            outcomes["new"] += 1
    print("kill outcomes", outcomes)
    assert sum(outcomes.values()) == KILLS
    # the next render cleans what killed ones left beside the output, and converges
    code, _ = config.render()
    assert code == 0
    assert not [p for p in config.out.parent.iterdir() if ".regops-new-" in p.name or ".regops-old-" in p.name]
    assert comparable(tree(config.out)) == new


def test_two_concurrent_renders_do_not_interleave(config):
    assert config.render()[0] == 0
    config.edit_yaml("regops.yaml", lambda d: d.update(secretNamePrefix="pull-"))
    procs = [subprocess.Popen(render_cmd(config) + ["--wait"], env=env_for(config), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert consistent(config.out)
    assert config.render("--check")[0] == 0


def test_a_held_lock_is_reported_or_waited_for(config, tmp_path):
    # The lock is per process, so another process holds it.
    ready = tmp_path / "ready"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, pathlib; from compiler.output import locked\n"
        f"with locked(pathlib.Path({str(config.out)!r})):\n"
        f"    pathlib.Path({str(ready)!r}).touch(); time.sleep(3)\n"
    )])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline and holder.poll() is None
            time.sleep(0.05)
        code, output = config.render()
        assert code == 1
        assert f"is being rendered by pid {holder.pid}" in output
        assert not config.out.exists()
        code, output = config.render("--wait")  # returns once the holder lets go
        assert code == 0, output
        assert holder.wait(timeout=10) == 0
        assert config.out.is_dir()
    finally:
        holder.kill()
        holder.wait()


def test_leftover_old_tree_is_restored_when_the_output_is_missing(config):
    """The two-rename fallback killed between its renames: the next render puts the old tree back first."""
    from compiler.output import clean_leftovers

    assert config.render()[0] == 0
    old = tree(config.out)
    parked = config.out.parent / f".{config.out.name}.regops-old-test"
    os.rename(config.out, parked)
    (config.out.parent / f".{config.out.name}.regops-new-test").mkdir()
    clean_leftovers(config.out)
    assert tree(config.out) == old
    assert not [p for p in config.out.parent.iterdir() if ".regops-" in p.name and not p.name.endswith(".regops-spare")]
