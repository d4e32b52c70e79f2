"""Real registries for `regops verify`: started once per session on 127.0.0.1, skipped where absent."""

from __future__ import annotations

import pytest
from verifykit import REGISTRY_BIN, SKIP_REASON, USERS, Pki, Registry, TokenIssuer

# Token grants: alice may pull team/charts/demo and pull (nothing stored) team/charts; carol only her own.
GRANTS = {
    "alice": {"team/charts/demo": {"pull"}, "team/charts": {"pull"}},
    "carol": {"carol/charts": {"pull"}},
    "": {"public/charts/demo": {"pull"}},  # anonymous
}


@pytest.fixture(scope="session", autouse=True)
def _no_proxy(request):
    """Requests to 127.0.0.1 never go through a proxy a CI machine may configure."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")
    mp.setenv("no_proxy", "127.0.0.1,localhost")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def needs_registry():
    if REGISTRY_BIN is None:
        pytest.skip(SKIP_REASON)


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"), "good")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory) -> Pki:
    """A second CA that signed nothing the registries use: the wrong CA."""
    return Pki(tmp_path_factory.mktemp("pki-other"), "other")


@pytest.fixture(scope="session")
def basic_registry(needs_registry, pki, tmp_path_factory):
    """htpasswd Basic auth over TLS from the test CA; team/charts/demo holds a chart."""
    reg = Registry(tmp_path_factory.mktemp("reg-basic"), pki=pki, users=USERS)
    reg.push_chart("team/charts/demo", auth=("pusher", USERS["pusher"]))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def plain_registry(needs_registry, tmp_path_factory):
    """htpasswd Basic auth on plain HTTP: only usable as connection: insecure."""
    reg = Registry(tmp_path_factory.mktemp("reg-plain"), users=USERS)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def issuer(pki, tmp_path_factory):
    iss = TokenIssuer(tmp_path_factory.mktemp("issuer"), USERS, GRANTS, pki=pki)
    yield iss
    iss.close()


@pytest.fixture(scope="session")
def token_registry(needs_registry, pki, issuer, tmp_path_factory):
    """Token (Bearer) auth over TLS, trusting `issuer`; charts in team/charts/demo and public/charts/demo."""
    reg = Registry(tmp_path_factory.mktemp("reg-token"), pki=pki, issuer=issuer)
    reg.push_chart("team/charts/demo")
    reg.push_chart("carol/charts")
    reg.push_chart("public/charts/demo")
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def plain_issuer(tmp_path_factory):
    """A token issuer on plain HTTP, on another origin than its registry."""
    iss = TokenIssuer(tmp_path_factory.mktemp("issuer-plain"), USERS, GRANTS, pki=None)
    yield iss
    iss.close()


@pytest.fixture(scope="session")
def plain_realm_registry(needs_registry, pki, plain_issuer, tmp_path_factory):
    """A TLS registry whose token realm is plain HTTP on another host: credentials must not go there."""
    reg = Registry(tmp_path_factory.mktemp("reg-plain-realm"), pki=pki, issuer=plain_issuer)
    yield reg
    reg.stop()
