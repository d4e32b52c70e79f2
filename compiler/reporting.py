"""Reporters: the same result as text, JSON or GitHub Actions annotations."""

from __future__ import annotations

import json
from collections.abc import Callable

from .problems import Problem
from .style import Palette


def summary(errors: int, warnings: int, files: int) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')} in {plural(files, 'file')}"


def text(problems: list[Problem], errors: int, warnings: int, files: int, *, color: bool = False) -> str:
    palette = Palette(color)
    lines = [_problem_line(p, palette) for p in problems]
    lines.append(palette.paint(summary(errors, warnings, files), "bold", *(("red",) if errors else ())))
    return "\n".join(lines) + "\n"


_SEVERITY_STYLE = {"error": ("bold", "red"), "warning": ("bold", "yellow")}


def _problem_line(p: Problem, palette: Palette) -> str:
    """Problem.format(), with the place bold and the level coloured."""
    if not palette.on:
        return p.format()
    where = f"{p.file}:{p.line}:{p.col}" if p.line else p.file
    level = palette.paint(p.severity.value, *_SEVERITY_STYLE[p.severity.value])
    suffix = palette.paint(f" [{p.path}]", "dim") if p.path else ""
    return f"{palette.paint(where, 'bold')}: {level}: {p.message}{suffix}"


def problems_report(fmt: str, problems: list[Problem], errors: int, warnings: int, files: int, *, color: bool = False) -> str:
    """Problems in fmt; only text is ever coloured (JSON and annotations are read by programs)."""
    if fmt == "text":
        return text(problems, errors, warnings, files, color=color)
    return PROBLEM_REPORTERS[fmt](problems, errors, warnings, files)


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


# Characters other than \r and \n that some readers of a log take for line breaks: an
# annotation must stay one line, so they are shown as escapes.
_OTHER_BREAKS = {c: f"\\u{ord(c):04x}" for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def annotation_text(s: str) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return s.translate(str.maketrans(_OTHER_BREAKS)) if any(c in s for c in _OTHER_BREAKS) else s


def annotation_property(s: str) -> str:
    return annotation_text(s).replace(":", "%3A").replace(",", "%2C")


def github(problems: list[Problem], errors: int, warnings: int, files: int) -> str:
    lines = []
    for p in problems:
        props = [f"file={annotation_property(p.file)}"]
        if p.line:
            props += [f"line={p.line}", f"col={p.col}"]
        props.append(f"title={annotation_property('regops ' + (p.path or p.rule or 'config'))}")
        lines.append(f"::{p.severity.value} {','.join(props)}::{annotation_text(p.message)}")
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


_CHANGE_STYLE = {"added": "green", "changed": "yellow", "removed": "red"}


def render_report(result, fmt: str, *, check: bool, quiet: bool, verbose: bool = False, color: bool = False) -> str:
    """What a render did (or, with --check, would do)."""
    diff = result.diff
    palette = Palette(color and fmt == "text")
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
    if quiet and not check:
        return ""  # -q: only problems; what a render wrote is not one (render --check -q lists what is stale)
    verb = "would be " if check else ""
    for label, paths in (("added", diff.added), ("changed", diff.changed), ("removed", diff.removed)):
        if not (check or verbose) and label == "added":
            continue  # a first render would list every file
        for path in paths:
            if fmt == "github" and check:
                lines.append(f"::error file={annotation_property(str(result.output) + '/' + path)},title=regops render --check::{annotation_text(path)} {verb}{label}; run regops render and commit")
            else:
                lines.append(f"{palette.paint(label[0].upper(), _CHANGE_STYLE[label])} {path}")
    for path in diff.foreign if not quiet else ():
        lines.append(f"{palette.paint('?', 'yellow')} {path} (not written by regops, left alone)")
    if not quiet:
        if not check:
            for c in result.clusters:
                lines.append(f"{c.name}: {c.files} files ({c.secrets} Secrets)")
        counts = f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed, {diff.unchanged} unchanged"
        if check:
            state = palette.paint("up to date", "green") if not diff.any else palette.paint(f"stale: {counts}", "red")
            lines.append(palette.paint(f"{result.output}: ", "bold") + state)
        else:
            lines.append(palette.paint(f"{result.output}: {counts}" + (f" ({result.sealed} Secrets sealed)" if result.sealed else ""), "bold"))
    return "\n".join(lines) + ("\n" if lines else "")


def plan_report(result, fmt: str, *, verbose: bool = False, color: bool = False) -> str:
    """Which registry reaches what, and what a render would change; no secret values.

    verbose (text) also lists every object each cluster receives.
    """
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
    palette = Palette(color)
    lines = []
    for plan in result.plans:
        lines.append(palette.paint(f"cluster {plan.cluster} ({plan.sync_tool}):", "bold"))
        grouped: dict[tuple, list[str]] = {}
        for r in plan.reaches:
            key = (r.registry or "(extraImagePullSecrets)", r.mechanism, r.via or "")
            grouped.setdefault(key, []).append(f"{r.namespace}/{r.service_account}" if r.service_account else r.namespace)
        for (registry, mechanism, via), where in sorted(grouped.items()):
            via_text = f" {via}" if via else ""
            lines.append(f"  {registry}: {mechanism}{via_text} -> {', '.join(sorted(set(where)))}")
        if verbose:
            for i in plan.intents:
                place = f"{i.namespace}/{i.name}" if i.namespace else i.name
                lines.append(f"    {i.path}: {i.kind} {place}")
    diff = result.diff
    lines.append(palette.paint("changes:", "bold"))
    for label, paths, style in (("+", diff.added, "green"), ("~", diff.changed, "yellow"), ("-", diff.removed, "red")):
        lines.extend(f"  {palette.paint(label, style)} {p}" for p in paths)
    lines.append(palette.paint(f"  {len(diff.added)} to add, {len(diff.changed)} to change, {len(diff.removed)} to remove, {diff.unchanged} unchanged", "bold"))
    return "\n".join(lines) + "\n"
