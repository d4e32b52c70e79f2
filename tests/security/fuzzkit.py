"""Fuzzing harness: validate configs from memory, fast, with a hard per-input time limit.

`Harness` keeps a config directory's files in memory and runs the real
`compiler.validation.validate_config` on it, with only the reading of file
bytes served from memory (discovery, YAML loading, JSON Schema, rules: all
the real code). Any exception would be `regops validate` exiting 3; a slow
input is stopped by SIGALRM.
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from unittest import mock

import sechelpers as sh
import yaml

from compiler import loading, schema_check, validation
from compiler.problems import Problem

PER_INPUT_LIMIT = 5.0  # seconds; a hang is anything longer


class Hang(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    def alarm(signum, frame):
        raise Hang(f"input took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


BASE_FILES = ("regops.yaml", "clusters.yaml", "registries.yaml", "registries/cloud.yaml")


class Harness:
    """examples/basic's files in memory (or any set of files), validated by the real validator."""

    def __init__(self, root: Path, files: dict[str, bytes] | None = None):
        self.root = root
        self.base = files or {name: (sh.EXAMPLE / name).read_bytes() for name in BASE_FILES}
        for name in self.base:
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"")  # discovery needs the names; the bytes come from memory
        self.current = dict(self.base)
        # Unchanged files are loaded and schema-checked once: their Document objects are reused
        # (nothing in validation mutates them), so each input costs only what it changed, plus the rules.
        self._loaded: dict[str, loading.LoadResult] = {}
        self._schema: dict[int, list] = {}
        self._real_check = schema_check.check
        self._patches = [mock.patch.object(validation, "load_file", self._load_file),
                         mock.patch.object(schema_check, "check", self._check)]

    def _load_file(self, path, display=None):
        rel = str(Path(path).relative_to(self.root))
        raw = self.current[rel]
        display = display or str(path)
        if raw is self.base[rel]:
            if rel not in self._loaded:
                self._loaded[rel] = loading.load_bytes(raw, display)
            return self._loaded[rel]
        return loading.load_bytes(raw, display)

    def _check(self, doc, kind):
        cached = any(r.document is doc for r in self._loaded.values())
        if not cached:
            return self._real_check(doc, kind)
        if id(doc) not in self._schema:
            self._schema[id(doc)] = self._real_check(doc, kind)
        return list(self._schema[id(doc)])

    def __enter__(self):
        for p in self._patches:
            p.start()
        return self

    def __exit__(self, *exc):
        for p in self._patches:
            p.stop()

    def validate(self, files: dict[str, bytes]) -> validation.ValidationResult:
        self.current = {**self.base, **files}
        return run_checked(lambda: validation.validate_config(self.root), "in_memory")


def run_checked(fn, kind: str):
    """Run one fuzz input: count it, time it, and record an exception (an exit 3) before re-raising."""
    sh.FIGURES["fuzz_inputs"] += 1
    sh.FIGURES[f"fuzz_inputs_{kind}"] += 1
    t0 = time.perf_counter()
    try:
        with time_limit(PER_INPUT_LIMIT):
            result = fn()
    except Hang:
        sh.FIGURES["fuzz_hangs"] += 1
        raise
    except Exception:
        sh.FIGURES["fuzz_internal_errors"] += 1
        raise
    elapsed = time.perf_counter() - t0
    sh.FIGURES["fuzz_slowest_ms"] = max(sh.FIGURES["fuzz_slowest_ms"], int(elapsed * 1000))
    return result


def check_problems(problems: list[Problem]) -> None:
    """What the reporters need of each problem: a file, a position, a message."""
    for p in problems:
        assert isinstance(p.message, str) and p.message, p
        assert isinstance(p.line, int) and p.line >= 0 and isinstance(p.col, int) and p.col >= 0, p
        p.format()
        p.as_dict()


def dump(data) -> bytes:
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True).encode("utf-8")


def parsed_base() -> dict[str, object]:
    return {name: yaml.safe_load((sh.EXAMPLE / name).read_text()) for name in BASE_FILES}


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
TINY_KEEP = {"clusters.yaml": ("clusters", ["prod-eu", "staging"]),
             "registries.yaml": ("registries", ["docker-hub", "harbor-internal"]),
             "registries/cloud.yaml": ("registries", ["ecr-prod"])}


def tiny_base() -> dict[str, bytes]:
    """examples/basic cut down to 2 clusters and 3 registries (sops blocks kept): cheap to validate, still valid."""
    out = {}
    for name, doc in parsed_base().items():
        if name in TINY_KEEP:
            key, names = TINY_KEEP[name]
            doc[key] = [x for x in doc[key] if x["name"] in names]
        out[name] = yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True).encode("utf-8")
    return out


def paths(node, prefix=()):
    """Every path into a parsed YAML tree (mapping keys and list indices), the root excluded."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(prefix + (k,))
            out.extend(paths(v, prefix + (k,)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(prefix + (i,))
            out.extend(paths(v, prefix + (i,)))
    return out


def get(node, path):
    for part in path:
        node = node[part]
    return node


def leaves(node) -> list:
    if isinstance(node, dict):
        return [x for v in node.values() for x in leaves(v)]
    if isinstance(node, list):
        return [x for v in node for x in leaves(v)]
    return [node]
