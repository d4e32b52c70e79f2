"""Schema validation of rendered Kubernetes objects, before anything is written (SPEC 3.5).

Core kinds are checked against kubernetes-validate's *strict* schemas (unknown
fields are errors) for the cluster's Kubernetes version; the custom resources
regops renders (HelmRepository, ExternalSecret, ECRAuthorizationToken) against
the schemas in schemas/crds/, derived from the upstream CRDs (see
tests/test_manifests.py). An apiVersion/kind with no schema is a problem, never
a silent pass.

One jsonschema validator is built per (Kubernetes version, apiVersion, kind) and
cached; schema files are read once, when first needed. kubernetes_validate,
jsonschema and referencing are imported lazily: importing this module is cheap.

Problems name fields, never the values of a Secret (nor of any field under
data/stringData).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Iterable

from .resources import data_dir

# kubernetes-validate's schemas refer to their shared definitions by this base.
_K8S_BASE = "https://kubernetes.io/api/"
_SECRET_FIELDS = ("data", "stringData")
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?$")


# --------------------------------------------------------------------------- public


def check(obj: dict, kubernetes_version: str) -> list[str]:
    """Problems of one rendered object, as human-readable strings; [] when valid.

    Each problem is `<field path>: <what is wrong>` (the path is `.` for the
    object itself); the caller says which object/file it is about.
    """
    if not isinstance(obj, dict):
        return [f".: a Kubernetes object must be a mapping, not {type(obj).__name__}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    missing = [f for f, v in (("apiVersion", api_version), ("kind", kind)) if not isinstance(v, str) or not v]
    if missing:
        return [f"{f}: is missing or not a non-empty string" for f in missing]
    try:
        v = validator(kubernetes_version, api_version, kind)
    except UnsupportedVersion as exc:
        return [str(exc)]
    if v is None:
        return [f"no schema for {api_version} {kind}"]
    fast = _fast_validator(schema_identity(kubernetes_version, api_version, kind), v)
    if fast is not None:
        try:
            fast(obj)
            return []
        except Exception:  # noqa: BLE001 — any doubt goes to jsonschema, which explains
            pass
    hide_values = kind == "Secret"
    problems = []
    for error in v.iter_errors(obj):
        problems.extend(_explain(error, hide_values))
    return sorted(set(problems))


def check_all(objs: Iterable[dict], kubernetes_version: str) -> dict[int, list[str]]:
    """Problems by position in `objs`, only for the objects that have any."""
    out = {}
    for i, obj in enumerate(objs):
        problems = check(obj, kubernetes_version)
        if problems:
            out[i] = problems
    return out


class UnsupportedVersion(ValueError):
    """kubernetes-validate ships no schemas for this Kubernetes version."""


def validator(kubernetes_version: str, api_version: str, kind: str):
    """The cached jsonschema validator for this version and kind, or None if there is no schema."""
    minor = _minor(kubernetes_version)
    _schema_dir(minor)  # an unsupported version is an error for custom resources too
    custom = _crd_validator(api_version, kind)
    if custom is not None:
        return custom
    return _core_validator(minor, api_version, kind)


# --------------------------------------------------------------------------- custom resources


def crd_schema_file(api_version: str, kind: str) -> str:
    """schemas/crds/ file name: `<kind lowercased>-<group>-<version>.json`."""
    group, _, version = api_version.rpartition("/")
    return f"{kind.lower()}-{group}-{version}.json"


@functools.cache
def _crds_dir() -> Path:
    found = data_dir("schemas") / "crds"
    if found.is_dir():
        return found
    # Installed wheel: the data ships as compiler/schemas/crds, beside this module.
    return Path(__file__).resolve().parent / "schemas" / "crds"


@functools.cache
def _crd_validator(api_version: str, kind: str):
    if not re.fullmatch(r"[A-Za-z0-9.-]+/[A-Za-z0-9]+", api_version) or not re.fullmatch(r"[A-Za-z0-9]+", kind):
        return None
    path = _crds_dir() / crd_schema_file(api_version, kind)
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as fh:
        schema = json.load(fh)
    # The file name lowercases the kind; the schema's kind enum has the last word.
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


# --------------------------------------------------------------------------- core kinds


def _minor(kubernetes_version: str) -> tuple[int, int]:
    m = _VERSION_RE.match(str(kubernetes_version).strip())
    if not m:
        raise UnsupportedVersion(f"Kubernetes version {kubernetes_version!r} is not of the form 1.31")
    return int(m.group(1)), int(m.group(2))


@functools.cache
def _schema_root() -> Path:
    import importlib.resources

    return Path(str(importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"))


@functools.cache
def _schema_dir(minor: tuple[int, int]) -> Path:
    path = _schema_root() / f"v{minor[0]}.{minor[1]}.0-local-strict"
    if not path.is_dir():
        from .kube_versions import shipped

        have = shipped()
        span = f"{have[0]}–{have[-1]}" if have else "none"
        raise UnsupportedVersion(
            f"kubernetes-validate has no schemas for Kubernetes {minor[0]}.{minor[1]} (it has {span})"
        )
    return path


@functools.cache
def _load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@functools.cache
def _registry(minor: tuple[int, int]):
    """A referencing Registry that loads kubernetes-validate's files of this version on demand.

    Kind files refer to `/api/_definitions.json#/$defs/...`, which resolves
    against their `$id` (https://kubernetes.io/api/<kind>/<version>) to
    https://kubernetes.io/api/_definitions.json. That document is added to the
    registry when first retrieved and memoised, so each file is read once.
    """
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource

    directory = _schema_dir(minor)

    @functools.cache
    def retrieve(uri: str):
        if not uri.startswith(_K8S_BASE):
            raise NoSuchResource(ref=uri)
        name = uri[len(_K8S_BASE):]
        path = directory / name
        if "/" in name or not path.is_file():
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(_load_json(path))

    # Definitions are needed by every kind: put them in the registry itself, so
    # a validator's resolver does not go through retrieve() on every $ref.
    defs_uri = _K8S_BASE + "_definitions.json"
    return Registry(retrieve=retrieve).with_resource(defs_uri, retrieve(defs_uri))


def _core_file_name(api_version: str, kind: str) -> str:
    # As kubernetes-validate does: rbac.authorization.k8s.io/v1 -> rbac-v1, v1 -> v1.
    return "%s-%s.json" % (kind.lower(), re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version))


@functools.cache
def _core_validator(minor: tuple[int, int], api_version: str, kind: str):
    directory = _schema_dir(minor)
    name = _core_file_name(api_version, kind)
    if "/" in name or name.startswith("_"):
        return None
    path = directory / name
    if not path.is_file():
        return None
    schema = _load_json(path)
    # The file name drops the group's domain (networking.k8s.io -> networking)
    # and lowercases the kind: accept it only if the schema is really for this
    # group/version/kind, so e.g. networking.example.com/v1 Ingress does not
    # borrow the core Ingress schema.
    group, _, version = api_version.rpartition("/")
    if {"group": group, "version": version, "kind": kind} not in schema.get("x-kubernetes-group-version-kind", []):
        return None
    import jsonschema

    inlined = _inline_refs(schema, _load_json(_schema_dir(minor) / "_definitions.json"))
    if inlined is not None:
        # Without $refs the validator never resolves URIs: several times faster.
        return jsonschema.Draft202012Validator(inlined)
    return jsonschema.Draft202012Validator(schema, registry=_registry(minor))


def _inline_refs(schema: Any, definitions: Any) -> Any:
    """`schema` with every `/api/_definitions.json#/...` $ref replaced by its target; None if a ref is recursive."""

    def resolve(node: Any, trail: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(v, trail) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            # kind files point into _definitions.json; definitions point within it
            if not ref.startswith(("/api/_definitions.json#/", "#/$defs/")) or ref.split("#", 1)[1] in trail:
                raise _Recursive
            target: Any = definitions
            for part in ref.split("#/", 1)[1].split("/"):
                target = target[part]
            merged = {k: v for k, v in node.items() if k != "$ref"}
            return {**resolve(target, trail + (ref.split("#", 1)[1],)), **{k: resolve(v, trail) for k, v in merged.items()}}
        return {k: resolve(v, trail) for k, v in node.items()}

    try:
        out = resolve(schema, ())
    except (_Recursive, KeyError, TypeError):
        return None
    out.pop("$id", None)
    return out


class _Recursive(Exception):
    pass


# --------------------------------------------------------------------------- messages


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "."


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(t: Any) -> str:
    names = t if isinstance(t, list) else [t]
    names = [n for n in names if n != "null"] or names
    return " or ".join({"object": "a mapping", "array": "a list", "integer": "an integer", "boolean": "a boolean", "string": "a string", "number": "a number"}.get(n, str(n)) for n in names)


def _explain(error, hide_values: bool) -> list[str]:
    """One error as `<path>: <message>`; values are shown only where they cannot be secret."""
    parts = list(error.absolute_path)
    where = _path(parts)
    hide = hide_values or any(p in _SECRET_FIELDS for p in parts)
    value = "" if hide else f" (got {_show(error.instance)})"
    kind, expected = error.validator, error.validator_value

    if kind in ("anyOf", "oneOf") and error.context:
        import jsonschema.exceptions

        best = jsonschema.exceptions.best_match(error.context)
        return _explain(best, hide_values)
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extra = sorted(k for k in error.instance if k not in allowed and not any(re.search(p, k) for p in patterns))
        return [f"{_path(parts + [k])}: unknown field (strict schema)" for k in extra]
    if kind == "required":
        missing = [k for k in expected if isinstance(error.instance, dict) and k not in error.instance]
        return [f"{_path(parts + [k])}: required field is missing" for k in missing]
    if kind == "type":
        return [f"{where}: must be {_type_name(expected)}{value}"]
    if kind == "enum":
        return [f"{where}: must be one of {', '.join(json.dumps(e) for e in expected)}{value}"]
    if kind == "const":
        return [f"{where}: must be {json.dumps(expected)}{value}"]
    if kind == "pattern":
        return [f"{where}: does not match the pattern {expected}{value}"]
    if kind in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties", "minimum", "maximum"):
        return [f"{where}: violates {kind} {expected}{value}"]
    return [f"{where}: fails the schema's {kind!r} check{value}"]


# --------------------------------------------------------------------------- fast path


_FAST: dict[str, Any] = {}  # schema identity -> compiled check (or None when it cannot compile)


def _fast_validator(identity: str, slow) -> Any:
    """fastjsonschema's compiled check of a $ref-free schema: ~100x faster for valid objects.

    Only acceptance is trusted: an object it rejects is checked again by
    jsonschema, whose errors are what the user reads.
    """
    if identity in _FAST:
        return _FAST[identity]
    schema = dict(slow.schema)
    compiled = None
    if "$ref" not in json.dumps(schema):
        schema.pop("$schema", None)
        try:
            import fastjsonschema

            def refuse(uri: str) -> Any:
                raise ValueError(f"remote $ref {uri} is never fetched")

            compiled = fastjsonschema.compile(schema, handlers={"http": refuse, "https": refuse}, use_default=False)
        except Exception:  # noqa: BLE001 — a schema it cannot compile just takes the slow path
            compiled = None
    _FAST[identity] = compiled
    return compiled


# --------------------------------------------------------------------------- identity


@functools.cache
def schema_identity(kubernetes_version: str, api_version: str, kind: str) -> str:
    """A key equal for two versions exactly when they check `kind` with the same schema.

    A fleet spans several Kubernetes versions whose Secret or ServiceAccount
    schemas are identical; with this key an object is checked once, not once
    per version. For core kinds it hashes the kind's schema together with every
    definition it reaches through $ref.
    """
    import hashlib

    minor = _minor(kubernetes_version)
    _schema_dir(minor)
    if _crd_validator(api_version, kind) is not None:
        return f"crd:{api_version}:{kind}"
    path = _schema_dir(minor) / _core_file_name(api_version, kind)
    if not path.is_file():
        return f"none:{minor}:{api_version}:{kind}"
    root = _load_json(path)
    defs = _load_json(_schema_dir(minor) / "_definitions.json")
    closure: dict[str, Any] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and "#/" in ref:
                pointer = ref.split("#/", 1)[1]
                if pointer not in closure:
                    target: Any = defs
                    for part in pointer.split("/"):
                        target = target.get(part) if isinstance(target, dict) else None
                    closure[pointer] = target
                    stack.append(target)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    text = json.dumps([root, sorted(closure.items())], sort_keys=True)
    return "core:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
