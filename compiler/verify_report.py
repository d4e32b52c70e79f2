"""Reporters of `regops verify`: the same VerifyResult as text, JSON or GitHub Actions annotations.

Results carry statuses and details built from status codes and error types only;
the CLI still scrubs every report against the registered secrets.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from .oci_handshake import OK, SKIPPED, STATUSES
from .reporting import annotation_text, annotation_property


def summary(result) -> str:
    counts = Counter(r.status for r in result.registries)
    n = len(result.registries)
    parts = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
    return f"{n} registr{'y' if n == 1 else 'ies'} checked: {parts}"


def text(result, *, verbose: bool = False, quiet: bool = False) -> str:
    width = max([len(r.name) for r in result.registries] + [len(p.repository) + 2 for r in result.registries for p in r.repositories] + [8])
    lines = []
    for r in result.registries:
        shown = [p for p in r.repositories if not quiet or p.status not in (OK, SKIPPED)]
        if quiet and r.status in (OK, SKIPPED) and not shown:
            continue
        lines.append(f"{r.name:<{width}}  {r.status:<12}  {r.detail}")
        for note in r.notes:
            lines.append(f"{'':<{width}}  {'':<12}  note: {note}")
        for p in shown:
            lines.append(f"{'  ' + p.repository:<{width}}  {p.status:<12}  {p.detail}")
        if verbose:
            lines.extend(f"    {step}" for step in r.trace)
    if not quiet:
        lines.append(summary(result))
    return "".join(line + "\n" for line in lines)


def as_json(result, *, verbose: bool = False, quiet: bool = False) -> str:
    registries = []
    for r in result.registries:
        entry = {
            "name": r.name,
            "provider": r.provider,
            "endpoint": r.endpoint,
            "status": r.status,
            "detail": r.detail,
            "notes": list(r.notes),
            "file": r.place.file,
            "line": r.place.line,
            "repositories": [
                {"repository": p.repository, "status": p.status, "detail": p.detail, "line": p.place.line}
                for p in r.repositories
            ],
        }
        if verbose:
            entry["trace"] = list(r.trace)
        registries.append(entry)
    counts = Counter(r.status for r in result.registries)
    doc = {"ok": result.ok, "counts": {s: counts[s] for s in STATUSES}, "registries": registries, "summary": summary(result)}
    return json.dumps(doc, indent=2) + "\n"


def github(result, *, verbose: bool = False, quiet: bool = False) -> str:
    """An annotation on the registry's (or chart repository's) line for each failure; skips as notices."""
    lines = []

    def annotate(level: str, place, title: str, message: str) -> None:
        props = f"file={annotation_property(place.file)},line={place.line},col={place.col},title={annotation_property(title)}"
        lines.append(f"::{level} {props}::{annotation_text(message)}")

    for r in result.registries:
        title = f"regops verify {r.name}"
        if r.status == SKIPPED and not quiet:
            annotate("notice", r.place, title, f"skipped: {r.detail}")
        failed_repos = [p for p in r.repositories if p.status not in (OK, SKIPPED)]
        if r.status not in (OK, SKIPPED) and not failed_repos:
            annotate("error", r.place, title, f"{r.status}: {r.detail}")
        for p in failed_repos:
            annotate("error", p.place, f"{title} {p.repository}", f"{p.status}: {p.detail}")
    lines.append(summary(result))
    return "".join(line + "\n" for line in lines)


VERIFY_REPORTERS: dict[str, Callable[..., str]] = {"text": text, "json": as_json, "github": github}
