"""Reporters: the same result as text, JSON or GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Callable

from .problems import Problem


def summary(errors: int, warnings: int, files: int) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}"


def text(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    lines = [p.format() for p in problems]
    lines.append(summary(errors, warnings, files))
    return "\n".join(lines) + "\n"


def as_json(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    doc = {
        "valid": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "files": files,
        "problems": [p.as_dict() for p in problems],
        "summary": summary(errors, warnings, files),
    }
    return json.dumps(doc, indent=2) + "\n"


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    lines = []
    for p in problems:
        props = [f"file={_escape_property(p.file)}"]
        if p.line:
            props += [f"line={p.line}", f"col={p.col}"]
        props.append(f"title={_escape_property('regops ' + (p.path or p.rule or 'config'))}")
        lines.append(f"::{p.severity.value} {','.join(props)}::{_escape_data(p.message)}")
    lines.append(summary(errors, warnings, files))
    return "\n".join(lines) + "\n"


PROBLEM_REPORTERS: dict[str, Callable[[list[Problem], int, int, int], str]] = {
    "text": text,
    "json": as_json,
    "github": github,
}


def _diff_dict(diff) -> dict:
    return {
        "added": diff.added,
        "changed": diff.changed,
        "removed": diff.removed,
        "unchanged": diff.unchanged,
        "foreign": diff.foreign,
    }


def render_report(result, fmt: str, *, check: bool, quiet: bool, verbose: bool = False) -> str:
    """What a render did (or, with --check, would do)."""
    diff = result.diff
    if fmt == "json":
        doc = {
            "output": str(result.output),
            "upToDate": not diff.any,
            "check": check,
            "clusters": [{"name": c.name, "files": c.files, "secrets": c.secrets} for c in result.clusters],
            "sealed": result.sealed,
            **_diff_dict(diff),
        }
        return json.dumps(doc, indent=2) + "\n"
    lines = []
    verb = "would be " if check else ""
    for label, paths in (("added", diff.added), ("changed", diff.changed), ("removed", diff.removed)):
        if not (check or verbose) and label == "added":
            continue  # a first render would list every file
        for path in paths:
            if fmt == "github" and check:
                lines.append(f"::error file={_escape_property(str(result.output) + '/' + path)},title=regops render --check::{path} {verb}{label}; run regops render and commit")
            else:
                lines.append(f"{label[0].upper()} {path}")
    for path in diff.foreign:
        lines.append(f"? {path} (not written by regops, left alone)")
    if not quiet:
        if not check:
            for c in result.clusters:
                lines.append(f"{c.name}: {c.files} files ({c.secrets} Secrets)")
        counts = f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed, {diff.unchanged} unchanged"
        if check:
            lines.append(f"{result.output}: " + ("up to date" if not diff.any else f"stale: {counts}"))
        else:
            lines.append(f"{result.output}: {counts}" + (f" ({result.sealed} Secrets sealed)" if result.sealed else ""))
    return "\n".join(lines) + ("\n" if lines else "")


def plan_report(result, fmt: str) -> str:
    """Which registry reaches what, and what a render would change; no secret values."""
    clusters = []
    for plan in result.plans:
        clusters.append(
            {
                "cluster": plan.cluster,
                "syncTool": plan.sync_tool,
                "registries": list(plan.registries),
                "reaches": [
                    {"registry": r.registry, "namespace": r.namespace, "serviceAccount": r.service_account, "mechanism": r.mechanism, "via": r.via}
                    for r in plan.reaches
                ],
                "objects": [
                    {"path": i.path, "kind": i.kind, "name": i.name, "namespace": i.namespace, "registry": i.registry, "mechanism": i.mechanism, "secret": i.secret}
                    for i in plan.intents
                ],
            }
        )
    if fmt == "json":
        return json.dumps({"clusters": clusters, "changes": _diff_dict(result.diff)}, indent=2) + "\n"
    lines = []
    for plan in result.plans:
        lines.append(f"cluster {plan.cluster} ({plan.sync_tool}):")
        grouped: dict[tuple, list[str]] = {}
        for r in plan.reaches:
            key = (r.registry or "(extraImagePullSecrets)", r.mechanism, r.via or "")
            grouped.setdefault(key, []).append(f"{r.namespace}/{r.service_account}" if r.service_account else r.namespace)
        for (registry, mechanism, via), where in sorted(grouped.items()):
            via_text = f" {via}" if via else ""
            lines.append(f"  {registry}: {mechanism}{via_text} -> {', '.join(sorted(set(where)))}")
    diff = result.diff
    lines.append("changes:")
    for label, paths in (("+", diff.added), ("~", diff.changed), ("-", diff.removed)):
        lines.extend(f"  {label} {p}" for p in paths)
    lines.append(f"  {len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} to remove, {diff.unchanged} unchanged")
    return "\n".join(lines) + "\n"
