"""`regops render`: validate → decrypt → plan → render → check → seal → write.

The core returns a RenderResult and never prints; the CLI reports it. One
cluster is rendered at a time and only its changed Secrets are sealed, so
memory stays bounded by the largest cluster and a no-op render seals nothing.
"""

from __future__ import annotations

import dataclasses
import os
from fnmatch import fnmatchcase
from pathlib import Path

from .problems import Problem, Severity

RULE = "render"
# Bumped whenever what a fingerprint covers changes, so that render states
# written by another scheme are not trusted to skip a cluster.
FINGERPRINTS = 2


@dataclasses.dataclass(frozen=True)
class RenderRequest:
    config_dir: Path
    output: Path | None = None
    clusters: tuple[str, ...] = ()
    verbose: bool = False
    check: bool = False  # compute the diff, write nothing
    wait: bool = False  # wait for another render's lock instead of failing
    jobs: int | None = None  # worker processes; None: one per core
    plans: bool = False  # plan every cluster, even those whose output is known to be current


@dataclasses.dataclass
class ClusterOutput:
    name: str
    files: int
    secrets: int


@dataclasses.dataclass
class RenderResult:
    problems: list[Problem]
    output: Path | None = None
    clusters: list[ClusterOutput] = dataclasses.field(default_factory=list)
    files_checked: int = 0
    diff: object = None  # output.Diff
    sealed: int = 0
    plans: list = dataclasses.field(default_factory=list)  # planning.ClusterPlan, for `regops plan`

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)


def _fail(where: str, message: str) -> RenderResult:
    return RenderResult([Problem(where, 0, 0, Severity.ERROR, message, "", RULE)])


@dataclasses.dataclass
class Loaded:
    """A validated config with its registries' decrypted credentials, or the problems that stopped it."""

    problems: list[Problem]
    files_checked: int
    config: object = None
    auth: dict = dataclasses.field(default_factory=dict)


def load_decrypted(config_dir: Path, verbose: bool = False) -> Loaded:
    """validate → decrypt: the stages `render`, `plan` and `verify` share.

    sops starts on the registries files while validation runs (see decryption.Early).
    """
    from .decryption import Early, decrypt_registries, needs_decryption
    from .discovery import discover
    from .validation import validate_config

    early = Early([str(p) for p in discover(config_dir).registries if Early.looks_encrypted(p)], verbose)
    try:
        validation = validate_config(config_dir)
        if not validation.ok:
            return Loaded(validation.problems, len(validation.files))
        config = validation.config
        encrypted = [(doc.file, doc.file) for doc in config.registry_docs if needs_decryption(doc)]
        decrypted = decrypt_registries(encrypted, verbose=verbose, early=early)
    finally:
        early.close()
    if decrypted.problems:
        return Loaded(decrypted.problems, len(validation.files))
    return Loaded([], len(validation.files), config, decrypted.auth)


def run(request: RenderRequest, progress=None) -> RenderResult:
    """progress, when given, is called with (clusters done, clusters total) as clusters finish."""
    loaded = load_decrypted(request.config_dir, request.verbose)
    if loaded.problems:
        return RenderResult(loaded.problems, files_checked=loaded.files_checked)
    config = loaded.config

    registries = [loc.model for loc in config.registries]
    every = [loc.model for loc in config.clusters]
    selected = every
    if request.clusters:
        selected = [c for c in every if _matches(c.name, request.clusters)]
        if not selected:
            return _fail(str(request.config_dir), f"--cluster {' '.join(request.clusters)} matches no cluster")
    output = request.output or (request.config_dir / config.settings.output)

    from . import output as out

    try:
        if request.check:
            return _render(request, config, registries, every, selected, loaded.auth, output, progress)
        with out.locked(output, wait=request.wait):
            out.clean_leftovers(output)
            return _render(request, config, registries, every, selected, loaded.auth, output, progress)
    except out.OutputError as exc:
        return _fail(str(output), str(exc))
    except OSError as exc:
        # disk full, permission denied, ...: the old tree is intact (the staging copy is dropped)
        where = exc.filename if isinstance(exc.filename, str) else str(output)
        return _fail(str(output), f"cannot write the output tree ({exc.strerror or type(exc).__name__}: {where}); it was left as it was")


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, g) for g in globs)


def config_recipients(config) -> tuple[str, ...]:
    """age recipients of the registries files: who may read the render state key."""
    found: set[str] = set()
    for doc in config.registry_docs:
        sops = doc.data.get("sops") if isinstance(doc.data, dict) else None
        for entry in (sops or {}).get("age") or []:
            if isinstance(entry, dict) and isinstance(entry.get("recipient"), str):
                found.add(entry["recipient"])
    return tuple(sorted(found))


def _render_key(output: Path, recipients: tuple[str, ...], verbose: bool) -> tuple[bytes, bytes | None]:
    """The HMAC key of the render state and the bytes of its sealed key file.

    Without config recipients the config holds no secret at all, so the
    fingerprints are keyed with an empty key and no key file is written.
    """
    from . import sealing
    from . import state as st
    from .decryption import decrypt_file

    if not recipients:
        return b"", None
    path = output / st.KEY_FILE
    key = None
    if path.is_file() and not path.is_symlink():
        data, problem = decrypt_file(str(path), str(path), verbose=verbose)
        if problem is not None:
            raise KeyFileError(f"{path}: {problem.message}; delete it to rebuild the render state (every Secret is then re-encrypted once)")
        try:
            from . import redact

            redact.register(data["hmacKey"])
            key = bytes.fromhex(data["hmacKey"])
            import yaml

            sealed_for = sorted(e["recipient"] for e in yaml.safe_load(path.read_text())["sops"]["age"])
        except (KeyError, TypeError, ValueError):
            raise KeyFileError(f"{path} is not a regops render key; delete it to rebuild the render state") from None
        if sealed_for == sorted(recipients):
            return key, path.read_bytes()
    key = key or os.urandom(32)
    text = sealing.seal(
        {"apiVersion": "regops.io/v1alpha1", "kind": "RenderKey", "hmacKey": key.hex()},
        list(recipients),
        encrypted_regex=st.KEY_REGEX,
    )
    return key, text.encode("utf-8")


class KeyFileError(Exception):
    pass


def _render(request, config, registries, every, selected, auth, output: Path, progress=None) -> RenderResult:
    from . import output as out
    from . import sealing

    try:
        key, key_bytes = _render_key(output, config_recipients(config), request.verbose)
    except KeyFileError as exc:
        return _fail(str(output), str(exc))

    def seal(obj: dict, recipients: tuple[str, ...]) -> str:
        return sealing.seal(obj, list(recipients))

    params = f"{sealing.DEFAULT_ENCRYPTED_REGEX}|{sealing.SOPS_VERSION}"
    tree = out.OutputTree(output, key, seal, params, stage_early=not request.check)
    try:
        return _render_into(tree, request, config, registries, every, selected, auth, output, key, key_bytes, params, progress)
    finally:
        tree.discard()  # a no-op after a successful commit; otherwise the output stays untouched


def _render_into(tree, request, config, registries, every, selected, auth, output: Path, key, key_bytes, params, progress=None) -> RenderResult:
    from . import output as out
    from . import state as st
    from .catalog import catalog

    problems: list[Problem] = []
    results: list[ClusterOutput] = []
    plans = []
    from . import statcache

    seen: dict = {}
    digests = _cluster_digests(config, auth, key)
    shared = (registries, config.settings, auth, output, key, params, request.plans)
    reach = {loc.model.name: [r.model for r, avail in zip(config.registries, config.available) if loc.model.name in avail] for loc in config.clusters}
    jobs = [(c, digests[c.name], reach[c.name]) for c in selected]
    if progress is not None:
        progress(0, len(jobs))
    foreign: dict[str, list[str]] = {}
    for name, found, plan, compared, counts, learnt, strangers in _cluster_results(jobs, shared, request.jobs):
        if strangers is not None:
            foreign[name] = strangers
        problems.extend(found)
        if plan is not None:
            plans.append(plan)
        if isinstance(compared, int):  # skipped: that many files, all current
            tree.keep_dir(name, compared)
        elif compared is not None:
            tree.merge(*compared)
        seen.update(learnt)
        results.append(ClusterOutput(name, *counts))
        if progress is not None:
            progress(len(results), len(jobs))

    old_root = st.load(output / st.STATE_FILE)
    known = set(old_root.clusters or []) if old_root else set()
    names = {c.name for c in every}
    dropped = sorted(c for c in known if c not in names and (not request.clusters or _matches(c, request.clusters)))
    for name in dropped:
        tree.drop_dir(name)
    owned_clusters = sorted((known - set(dropped)) | {c.name for c in selected})
    root = [out.Produced("catalog.json", content=catalog(registries).encode("utf-8"))]
    if key_bytes is not None:
        root.append(out.Produced(st.KEY_FILE, content=key_bytes))
    tree.add_dir("", root, extra_state={"clusters": owned_clusters})
    tree.find_foreign(foreign)
    if problems:
        return RenderResult(problems, output, results, diff=tree.diff)
    if not request.check:
        tree.commit()
        seen.update(tree.written_entries())
    if seen:
        statcache.save(output, seen)
    return RenderResult([], output, results, diff=tree.diff, sealed=tree.sealed, plans=plans)


def _cluster_digests(config, auth, key: bytes) -> dict[str, str]:
    """Per cluster, a keyed fingerprint of every input its output depends on.

    The cluster's own entry, the registries available to it (with their
    decrypted credentials), the settings, regops' version and its templates:
    when none of them changed and the files are intact, the cluster is skipped.
    """
    import json

    from . import __version__
    from . import state as st

    def plain(value):
        # sops gives every value a fresh IV whenever a file is re-encrypted: ENC[...]
        # text would make every registry of an edited file look changed. The
        # decrypted values are part of the digest through `auth` instead.
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, str) and value.startswith("ENC["):
            return "ENC"
        return value

    def raw(record) -> str:
        return json.dumps(plain(getattr(record, "_data", None) or {}), sort_keys=True, default=str)

    reg_digests = [
        st.input_fingerprint(key, (raw(loc.model), sorted((auth.get(loc.model.name) or {}).items())))
        for loc in config.registries
    ]
    common = (__version__, FINGERPRINTS, _templates_digest(), raw(config.settings))
    out = {}
    for loc in config.clusters:
        name = loc.model.name
        reaching = sorted(d for d, avail in zip(reg_digests, config.available) if name in avail)
        out[name] = st.input_fingerprint(key, (common, raw(loc.model), tuple(reaching)))
    return out


# Set once per worker process by _init_worker: the inputs every cluster job shares,
# so they are sent to each worker once instead of with every cluster.
_SHARED: tuple = ()


def _init_worker(shared: tuple) -> None:
    global _SHARED
    _SHARED = shared
    _MEMO.clear()


# Per render and process: rendered objects by intent, and what was computed from
# them (schema problems, YAML text), keyed by id() of objects the memo keeps alive.
_MEMO: dict = {}


def _init_pool_worker(shared: tuple) -> None:
    _die_with_parent()
    _init_worker(shared)


def _die_with_parent() -> None:
    """A killed render must not leave workers behind (Linux: PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _cluster_job(job):
    """Plan, render, check and compare one cluster; sealing happens here, in parallel.

    A cluster whose inputs are unchanged (same keyed digest in its render
    state) and whose files are intact is skipped whole. Otherwise objects whose
    own inputs are unchanged are not rendered, checked or sealed again: a
    no-op render, or a change to one registry, costs in proportion to what changed.
    """
    from . import output as out
    from . import sealing, statcache
    from . import state as st
    from .planning import plan_cluster
    from .rendering import kustomization_files

    cluster, digest, available = job
    registries, settings, auth, root, key, params, want_plans = _SHARED
    cache = statcache.load(root, cluster.name)
    base = root / cluster.name
    old = st.load(base / st.STATE_FILE) or st.DirState({})
    learnt: dict = {}
    prefix = f"{base}{os.sep}"

    def intact(rel: str, sha256: str) -> bool:
        return statcache.intact(prefix + rel, f"{cluster.name}/{rel}", sha256, cache, learnt)

    if old.input == digest and old.files:
        whole, strangers = _scan_kept(base, old, cluster.name, cache, learnt)
        if whole:
            plan = plan_cluster(cluster, registries, settings, available) if want_plans else None
            counts = (len(old.files), sum(1 for f in old.files.values() if f.hmac))
            return cluster.name, [], plan, len(old.files), counts, learnt, strangers

    plan = plan_cluster(cluster, registries, settings, available)
    provider_of = {r.name: r.provider for r in registries}
    inputs = _input_fingerprints(plan, cluster, provider_of, auth, key)
    kept = {}
    for intent in plan.intents:
        before = old.files.get(intent.path)
        if before is not None and before.input == inputs[intent.path] and intact(intent.path, before.sha256):
            kept[intent.path] = before
    # kustomization.yaml (and the KSOPS generator) depend only on the list of files
    layout = _layout_fingerprint(plan, key)
    layout_files = kustomization_files(plan)
    for rel in layout_files:
        before = old.files.get(rel)
        inputs[rel] = layout
        if before is not None and before.input == layout and intact(rel, before.sha256):
            kept[rel] = before
    todo = {i.path for i in plan.intents} - kept.keys()
    produced, found = produce_cluster(cluster, plan, provider_of, auth, todo, layout=not all(f in kept for f in layout_files))
    counts = (len(plan.intents) + 1, sum(1 for i in plan.intents if i.secret))
    if found:
        return cluster.name, found, plan, None, counts, learnt, None
    compared = out.compare_dir(
        root, cluster.name, produced, key, lambda obj, rcpt: sealing.seal(obj, list(rcpt)), params,
        {"input": digest}, kept=kept, inputs=inputs, old=old,
    )
    files = compared[0].new_state.files  # counted as a skipped cluster counts them
    counts = (len(files), sum(1 for f in files.values() if f.hmac))
    return cluster.name, [], plan, compared, counts, learnt, _strangers(base, compared[0].new_state, compared[0].removes)


def _layout_fingerprint(plan, key: bytes) -> str:
    from . import __version__
    from . import state as st

    files = tuple(sorted((i.path, i.secret) for i in plan.intents))
    return st.input_fingerprint(key, ("layout", __version__, _templates_digest(), plan.sync_tool, files))


def _auth_fingerprint(registry: str, auth, key: bytes) -> str:
    """One keyed fingerprint per registry's credentials, per process: not one per Secret."""
    from . import state as st

    memo = _MEMO.setdefault("auth", {})
    found = memo.get(registry)
    if found is None:
        found = memo[registry] = st.input_fingerprint(key, tuple(sorted((auth.get(registry) or {}).items())))
    return found


def _scan_kept(base: Path, old, name: str, cache, learnt) -> tuple[bool, list[str]]:
    """One walk of a cluster directory whose inputs are unchanged: are all its files intact, and
    which files are not regops'? (scandir's entries carry what lstat would say.)"""
    from . import statcache
    from . import state as st

    files = old.files
    found = 0
    whole = True
    strangers: list[str] = []
    stack = [(os.fspath(base), "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return False, []
        for entry in entries:
            rel = rel_dir + entry.name
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, rel + "/"))
                continue
            owned = files.get(rel)
            if owned is None:
                if rel != st.STATE_FILE:
                    strangers.append(rel)
                continue
            found += 1
            if whole:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    whole = False
                    continue
                whole = statcache.intact(entry.path, f"{name}/{rel}", owned.sha256, cache, learnt, info)
    return whole and found == len(files), strangers


def _strangers(base: Path, state, removes: list[str]) -> list[str]:
    """Files in one cluster directory that regops does not own (walked here, in the worker)."""
    from . import output as out
    from . import state as st

    return out.foreign_in(base, {*state.files, *removes, st.STATE_FILE})


def _input_fingerprints(plan, cluster, provider_of, auth, key: bytes) -> dict[str, str]:
    """Per file of the plan, a keyed fingerprint of what it is rendered from.

    Hot on a change (every intent of every affected cluster): imports, schema
    identities and the constant parts are looked up once per cluster, and a
    non-secret object recurring across clusters is fingerprinted once per process.
    """
    from . import __version__, manifests
    from .rendering import API_VERSIONS
    from .state import input_fingerprint

    version = cluster.kubernetesVersion
    templates = _templates_digest()
    identities: dict[str, str] = {}
    memo = _MEMO.setdefault("inputs", {})
    out = {}
    for intent in plan.intents:
        registry = intent.registry or ""
        ident = identities.get(intent.kind)
        if ident is None:
            ident = identities[intent.kind] = manifests.schema_identity(version, API_VERSIONS[intent.kind], intent.kind)
        params = repr(intent.params)
        provider = provider_of.get(registry)
        if not intent.secret:
            memo_key = (intent.template, intent.path, params, provider, version)
            found = memo.get(memo_key)
            if found is None:
                found = memo[memo_key] = input_fingerprint(key, (
                    __version__, templates, intent.template, intent.path, params, provider, (), (), ident,
                ))
            out[intent.path] = found
            continue
        out[intent.path] = input_fingerprint(key, (
            __version__, templates, intent.template, intent.path, params, provider,
            _auth_fingerprint(registry, auth, key), plan.recipients, ident,
        ))
    return out


def _templates_digest() -> str:
    """Changing a template re-renders what it produced."""
    if "templates" not in _MEMO:
        import hashlib

        from .resources import data_dir

        h = hashlib.sha256()
        for f in sorted(data_dir("templates").rglob("*.j2")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        _MEMO["templates"] = h.hexdigest()
    return _MEMO["templates"]


def _cluster_results(clusters: list, shared: tuple, jobs: int | None):  # clusters: (cluster, digest) pairs
    """Results of _cluster_job per cluster, in order; a process pool when it pays."""
    workers = jobs if jobs is not None else (os.cpu_count() or 1)
    workers = max(1, min(workers, len(clusters)))
    if workers == 1 or len(clusters) < 3:
        _init_worker(shared)
        yield from (_cluster_job(c) for c in clusters)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_pool_worker, initargs=(shared,)) as pool:
        # small chunks: results (and the progress bar) arrive steadily, not in bursts
        try:
            yield from pool.map(_cluster_job, clusters, chunksize=max(1, len(clusters) // (workers * 32)))
        except BaseException:
            # Ctrl-C or a failure: drop the clusters not started instead of rendering them first
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def produce_cluster(cluster, plan, provider_of, auth, only: set[str], *, layout: bool = True):
    """The files of one cluster that need rendering (Secrets unsealed), its kustomization unless `layout` is
    False (it is current), and problems."""
    from . import manifests
    from .output import Produced
    from .rendering import RenderError, kustomization, render_cluster
    from .serialize import dump

    memo = _MEMO.setdefault("objects", {})
    checked = _MEMO.setdefault("checked", {})
    texts = _MEMO.setdefault("texts", {})
    try:
        if only:
            objects = render_cluster(plan, provider_of, auth, memo, only, layout)
        else:
            objects = kustomization(plan) if layout else []
    except RenderError as exc:
        return [], [Problem(cluster.name, 0, 0, Severity.ERROR, f"cluster '{cluster.name}': {exc}", "", RULE)]
    problems: list[Problem] = []
    produced = []
    for obj in objects:
        if obj.kubernetes:
            key = (manifests.schema_identity(cluster.kubernetesVersion, obj.obj["apiVersion"], obj.obj["kind"]), id(obj.obj))
            if key not in checked:
                checked[key] = manifests.check(obj.obj, cluster.kubernetesVersion)
            for message in checked[key]:
                problems.append(Problem(f"{cluster.name}/{obj.path}", 0, 0, Severity.ERROR, f"rendered object is invalid: {message}", "", "manifest"))
        if obj.secret:
            produced.append(Produced(obj.path, obj=obj.obj, recipients=plan.recipients))
        else:
            text = texts.get(id(obj.obj)) if obj.kubernetes else None
            if text is None:
                text = dump(obj.obj).encode("utf-8")
                if obj.kubernetes:
                    texts[id(obj.obj)] = text
            produced.append(Produced(obj.path, content=text))
    return produced, problems
