"""`regops verify`: do each registry's credentials work, and may they pull each chart repository?

load → validate → decrypt exactly as `regops render` does; then one Target per
registry (where to log in, with what, over which TLS settings, or why it is
skipped), checked concurrently by a bounded thread pool through the OCI
handshake. The core returns a VerifyResult and never prints.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatchcase
from pathlib import Path

from .oci_handshake import (
    FORBIDDEN,
    OK,
    SKIPPED,
    STATUSES,
    TLS_ERROR,
    UNAUTHORIZED,
    UNREACHABLE,
)
from .problems import Problem, Severity

RULE = "verify"
POOL_SIZE = 8  # registries checked at once: enough for CI, gentle on registries and runners

__all__ = ["FORBIDDEN", "OK", "SKIPPED", "STATUSES", "TLS_ERROR", "UNAUTHORIZED", "UNREACHABLE", "VerifyRequest", "VerifyResult", "run"]


@dataclasses.dataclass(frozen=True)
class VerifyRequest:
    config_dir: Path
    registries: tuple[str, ...] = ()  # names or globs; empty: every registry
    timeout: float = 10.0  # seconds per HTTP request
    verbose: bool = False


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a registry or chart repository is written, for annotations."""

    file: str
    line: int
    col: int


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    provider: str
    endpoint: str  # host[:port] of the OCI distribution API
    public: bool
    connection: str  # secure | secure-with-ca | insecure
    ca: str | None
    repositories: tuple[tuple[str, Place], ...]
    place: Place
    credentials: tuple[str, str] | None = dataclasses.field(default=None, repr=False)
    skip: str | None = None  # why it is not checked
    unusable: str | None = None  # why its credentials cannot be sent (no key material in it)


@dataclasses.dataclass
class RepositoryResult:
    repository: str
    status: str
    detail: str
    place: Place


@dataclasses.dataclass
class RegistryResult:
    name: str
    provider: str
    endpoint: str
    status: str
    detail: str
    place: Place
    repositories: list[RepositoryResult] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    trace: list[str] = dataclasses.field(default_factory=list)  # requests made, for -v


@dataclasses.dataclass
class VerifyResult:
    problems: list[Problem]  # input errors (invalid config, decryption): nothing was checked
    registries: list[RegistryResult] = dataclasses.field(default_factory=list)
    files_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.status in (OK, SKIPPED) for r in self.registries)


def run(request: VerifyRequest, *, transport=None) -> VerifyResult:
    """Check the selected registries. `transport` (an httpx transport) replaces the network in tests."""
    from .pipeline import load_decrypted

    loaded = load_decrypted(request.config_dir, request.verbose)
    if loaded.problems:
        return VerifyResult(loaded.problems, files_checked=loaded.files_checked)
    config = loaded.config

    selected = [loc for loc in config.registries if not request.registries or any(fnmatchcase(loc.model.name, g) for g in request.registries)]
    if not selected:
        where = str(request.config_dir)
        message = f"--registry {' '.join(request.registries)} matches no registry"
        return VerifyResult([Problem(where, 0, 0, Severity.ERROR, message, "", RULE)], files_checked=loaded.files_checked)
    targets = [target(loc, loaded.auth) for loc in selected]
    return VerifyResult([], check_all(targets, request.timeout, transport=transport), loaded.files_checked)


def target(loc, decrypted_auth: dict[str, dict[str, str]]) -> Target:
    """What to check for one located registry: endpoint, TLS, credentials or the reason to skip."""
    from . import providers, redact

    r = loc.model
    provider = providers.get(r.provider)
    endpoint = provider.oci_host(providers.host_of(r.provider, r.url) or "")
    line, col = loc.doc.where(loc.path)
    repos = tuple(
        (path, Place(loc.doc.file, *loc.doc.where(loc.path + ("chartRepositories", i))))
        for i, path in enumerate(r.chartRepositories or [])
    )
    base = {
        "name": r.name, "provider": r.provider, "endpoint": endpoint, "public": not r.is_private,
        "connection": r.effective_connection, "ca": r.caCertificate, "repositories": repos, "place": Place(loc.doc.file, line, col),
    }
    if not r.is_private:
        return Target(**base)  # checked anonymously, as a cluster without pull secret would
    auth = r.auth
    if r.provider == "ecr":
        if auth is not None and auth.method == "iam-role":
            return Target(**base, skip="ECR iam-role has no credentials to check: nodes and controllers pull with their AWS role")
        return Target(**base, skip="ECR needs the AWS API for a pull token; External Secrets checks these keys in the cluster")
    fields = decrypted_auth.get(r.name)
    if fields is None and auth is not None:
        fields = {k: v for k, v in auth._data.items() if isinstance(v, str)}  # a file without sops metadata
    if not fields:
        if r.source == "image-pull-secret":
            names = ", ".join(r.credentialAccess.pull_secret_names) or "(none)"
            return Target(**base, skip=f"no credentials in the config: the clusters use the existing Secret(s) {names}")
        return Target(**base, skip="no credentials in the config")
    try:
        user, password = provider.credentials(dict(fields))
    except (KeyError, ValueError) as exc:
        # gcp.KeyError_ messages are written without key material.
        why = str(exc) if isinstance(exc, providers.gcp.KeyError_) else "credentials incomplete after decryption"
        return Target(**base, unusable=f"credentials not sent: {why}")
    redact.register(password)  # e.g. the compacted GCP key, which differs from the decrypted text
    return Target(**base, credentials=(user, password))


def check_all(targets: list[Target], timeout: float, *, transport=None) -> list[RegistryResult]:
    tls = _TlsContexts()
    if len(targets) == 1:
        return [check(targets[0], timeout, tls, transport=transport)]
    with ThreadPoolExecutor(max_workers=min(POOL_SIZE, len(targets))) as pool:
        return list(pool.map(lambda t: check(t, timeout, tls, transport=transport), targets))


def check(t: Target, timeout: float, tls: _TlsContexts, *, transport=None) -> RegistryResult:
    from .oci_handshake import Handshake

    result = RegistryResult(t.name, t.provider, t.endpoint, SKIPPED, "", t.place)
    if t.skip or t.unusable:
        result.status, result.detail = (SKIPPED, t.skip) if t.skip else (UNAUTHORIZED, t.unusable)
        result.repositories = [RepositoryResult(p, SKIPPED, "not checked", place) for p, place in t.repositories]
        return result
    try:
        verify = tls.for_target(t)
    except (ValueError, OSError):  # ssl.SSLError is an OSError
        result.status, result.detail = TLS_ERROR, "the caCertificate cannot be loaded as a trust anchor"
        return result
    client = _client(verify, timeout, transport)
    # A token realm on another host is always verified against the trusted roots,
    # even for an insecure registry: credentials never go to an unverified third party.
    realm_client = client if verify is not False else _client(tls.default(), timeout, transport)
    try:
        hs = Handshake(client, t.endpoint, t.credentials, insecure=t.connection == "insecure", realm_client=realm_client, timeout=timeout)
        login = hs.login()
        for path, place in t.repositories:
            if login.status != OK:
                result.repositories.append(RepositoryResult(path, SKIPPED, "not checked: no login", place))
                continue
            outcome = hs.pull(path)
            result.repositories.append(RepositoryResult(path, outcome.status, outcome.detail, place))
    finally:
        client.close()
        if realm_client is not client:
            realm_client.close()
    result.status, result.detail = login.status, login.detail
    result.notes, result.trace = hs.notes, hs.trace
    failed = [r for r in result.repositories if r.status != OK]
    if login.status == OK and failed:
        result.status = failed[0].status
        result.detail += f"; {len(failed)} of {len(result.repositories)} chart repositories not pullable"
    return result


def _client(verify, timeout: float, transport):
    import httpx

    from . import __version__

    kwargs = {}
    if transport is not None:
        kwargs["transport"] = transport
    return httpx.Client(
        verify=verify,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": f"regops/{__version__} (verify)"},
        **kwargs,
    )


class _TlsContexts:
    """TLS settings per connection mode; the default trust store is built once per run."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._default = None

    def default(self):
        with self._lock:
            if self._default is None:
                self._default = _trust_store()
            return self._default

    def for_target(self, t: Target):
        if t.connection == "insecure":
            return False  # no verification, like Docker's insecure-registries
        if t.connection == "secure-with-ca" and t.ca:
            ctx = _trust_store()
            ctx.load_verify_locations(cadata=t.ca)
            return ctx
        return self.default()


def _trust_store():
    """The system's roots (honouring SSL_CERT_FILE/SSL_CERT_DIR), plus certifi's where installed."""
    import ssl

    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError):
        pass
    return ctx
