#!/usr/bin/env python3
"""Benchmark `regops validate` against check-jsonschema on a large fleet (SPEC 5).

    python tests/benchmarks/bench_validate.py [--reps 10] [--registries 40 --clusters 200 --namespaces 8]
                                              [--seed 0] [--no-encrypt] [--config DIR]

Generates the fleet (tests/benchmarks/fleet.py) into a temporary directory, then
times, interleaved in one run, each as a fresh process the way a user or a
pre-commit hook runs it:

  regops validate --config DIR            the console script next to this interpreter
  check-jsonschema (sum of 3 invocations) one per schema, as a pre-commit setup runs it:
                                            --schemafile schemas/registries.schema.json registries/*.yaml
                                            --schemafile schemas/clusters.schema.json clusters.yaml
                                            --schemafile schemas/settings.schema.json regops.yaml
  python -c pass                          the interpreter floor

Each repetition runs every tool once, in a rotating order. Reported: median and
min wall time, and the ratio to check-jsonschema. Both tools must accept the
fleet (exit 0), or the benchmark stops.

Not a test: pytest collects only test_*.py, and CI (`make test`) does not run
it; `make bench` does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import fleet as fleet_mod  # noqa: E402  (a sibling script, no package needed)


def _tool(name: str) -> str:
    """A console script installed next to this interpreter (the venv's bin/), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    from shutil import which

    found = which(name)
    if not found:
        sys.exit(f"bench_validate.py: {name} not found; install with: pip install -e '.[bench]'")
    return found


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    return time.perf_counter() - start, proc


def _check(label: str, proc: subprocess.CompletedProcess) -> None:
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        tail = "\n".join(out.splitlines()[-15:])
        sys.exit(f"bench_validate.py: {label} exited {proc.returncode}:\n{tail}")


def config_files(config: Path) -> tuple[list[Path], Path, Path]:
    """(registries files, clusters file, settings file) of a config directory laid out like the fleet's."""
    registry_files = sorted(config.glob("registries/*.yaml"))
    if (config / "registries.yaml").is_file():
        registry_files.insert(0, config / "registries.yaml")
    return registry_files, config / "clusters.yaml", config / "regops.yaml"


def cjs_commands(registry_files: list[Path], clusters_file: Path, settings_file: Path) -> list[tuple[str, list[str]]]:
    """The check-jsonschema invocations a pre-commit setup runs on these files, one per schema."""
    cjs = _tool("check-jsonschema")
    schemas = REPO / "schemas"
    calls = [
        ("registries", [cjs, "--schemafile", str(schemas / "registries.schema.json"), *map(str, registry_files)]),
        ("clusters", [cjs, "--schemafile", str(schemas / "clusters.schema.json"), str(clusters_file)]),
    ]
    if settings_file.is_file():
        calls.append(("settings", [cjs, "--schemafile", str(schemas / "settings.schema.json"), str(settings_file)]))
    return calls


TOOLS = ("regops validate", "check-jsonschema", "python -c pass")


def measure(
    config: Path,
    registry_files: list[Path],
    clusters_file: Path,
    settings_file: Path,
    reps: int,
    env: dict[str, str],
) -> tuple[dict[str, list[float]], dict[str, list[float]], list[tuple[str, list[str]]]]:
    """Time each tool `reps` times, interleaved in a rotating order, after one uncounted warm-up round.

    Returns (wall times per tool in TOOLS, wall times per check-jsonschema invocation, those
    invocations). Exits if a tool fails or regops validate reports a problem.
    """
    regops = _tool("regops")
    cjs_calls = cjs_commands(registry_files, clusters_file, settings_file)
    tools = list(TOOLS)
    parts: dict[str, list[float]] = {label: [] for label, _ in cjs_calls}

    def run_tool(name: str) -> float:
        if name == "regops validate":
            t, proc = _run([regops, "validate", "--config", str(config)], env)
            _check(name, proc)
            summary = proc.stdout.decode().strip().splitlines()[-1]
            if not summary.startswith("0 errors"):
                sys.exit(f"bench_validate.py: regops validate reported problems: {summary}")
            return t
        if name == "check-jsonschema":
            total = 0.0
            for label, cmd in cjs_calls:
                t, proc = _run(cmd, env)
                _check(f"check-jsonschema ({label})", proc)
                parts[label].append(t)
                total += t
            return total
        t, proc = _run([sys.executable, "-c", "pass"], env)
        _check(name, proc)
        return t

    # One warm-up round (page cache, .pyc files), not counted.
    for name in tools:
        run_tool(name)
    for label in parts:
        parts[label].clear()
    times: dict[str, list[float]] = {name: [] for name in tools}
    for rep in range(reps):
        k = rep % len(tools)
        for name in tools[k:] + tools[:k]:  # rotate the order each repetition
            times[name].append(run_tool(name))
    return times, parts, cjs_calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="regops validate vs check-jsonschema on a generated fleet")
    parser.add_argument("--reps", type=int, default=10, help="repetitions of each tool (default 10)")
    parser.add_argument("--registries", type=int, default=40)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--namespaces", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encrypt", action=argparse.BooleanOptionalAction, default=True, help="encrypt with the real sops (default)")
    parser.add_argument("--config", type=Path, help="benchmark this existing config directory instead of generating one")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="regops-bench-") as tmp:
        if args.config:
            config = args.config.resolve()
            registry_files, clusters_file, settings_file = config_files(config)
            import yaml

            n_clusters = len(yaml.safe_load(clusters_file.read_text())["clusters"])
            n_registries = sum(len(yaml.safe_load(p.read_text())["registries"]) for p in registry_files)
            n_namespaces = "?"
        else:
            t0 = time.perf_counter()
            fl = fleet_mod.generate(
                Path(tmp) / "config",
                registries=args.registries,
                clusters=args.clusters,
                namespaces=args.namespaces,
                seed=args.seed,
                encrypt=args.encrypt,
            )
            print(f"generated the fleet in {time.perf_counter() - t0:.1f} s ({'sops-encrypted' if fl.encrypted else 'fake ENC values'})")
            config, registry_files = fl.outdir, fl.registry_files
            clusters_file, settings_file = fl.clusters_file, fl.settings_file
            n_clusters, n_registries, n_namespaces = len(fl.clusters), len(fl.registries), args.namespaces
        files = ([settings_file] if settings_file.is_file() else []) + [clusters_file] + registry_files

        env = dict(os.environ, SOPS_DISABLE_VERSION_CHECK="1")
        times, parts, cjs_calls = measure(config, registry_files, clusters_file, settings_file, args.reps, env)

        size = sum(p.stat().st_size for p in files)
        print(
            f"fleet: {len(files)} files ({size / 1024:.0f} KiB; {len(registry_files)} registries files), "
            f"{n_registries} registries, {n_clusters} clusters x {n_namespaces} namespaces"
        )
        print(f"repetitions: {args.reps} each, interleaved; python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
        print()
        base_med = statistics.median(times["check-jsonschema"])
        base_min = min(times["check-jsonschema"])
        header = f"{'tool':<44} {'median s':>9} {'min s':>8} {'ratio (median)':>15} {'ratio (min)':>12}"
        print(header)
        print("-" * len(header))
        rows: list[tuple[str, list[float]]] = [
            ("regops validate --config DIR", times["regops validate"]),
            (f"check-jsonschema (sum of {len(cjs_calls)} invocations)", times["check-jsonschema"]),
            *((f"  check-jsonschema {label}", parts[label]) for label, _ in cjs_calls),
            ("python -c pass (interpreter floor)", times["python -c pass"]),
        ]
        for label, samples in rows:
            med, mn = statistics.median(samples), min(samples)
            print(f"{label:<44} {med:>9.3f} {mn:>8.3f} {med / base_med:>14.2f}x {mn / base_min:>11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
