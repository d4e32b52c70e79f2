"""The OCI handshake against scripted registries (httpx MockTransport): parsing, statuses, safety rules."""

from __future__ import annotations

import base64

import httpx
import pytest

from compiler import oci_handshake as oh
from compiler.oci_handshake import Challenge, Handshake, parse_www_authenticate

# ---------------------------------------------------------------------------- WWW-Authenticate


def test_parses_a_distribution_bearer_challenge():
    value = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'
    assert parse_www_authenticate(value) == [
        Challenge("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"})
    ]


def test_parses_insufficient_scope_with_a_comma_inside_quotes():
    value = 'Bearer realm="https://r.example/token",service="r",scope="repository:a/b:pull,push",error="insufficient_scope"'
    (c,) = parse_www_authenticate(value)
    assert c.params["scope"] == "repository:a/b:pull,push"
    assert c.params["error"] == "insufficient_scope"


def test_parses_several_challenges_and_escapes():
    value = r'Basic realm="a \"quoted\" realm", Bearer realm=https://x.example/t , service=svc'
    assert parse_www_authenticate(value) == [
        Challenge("basic", {"realm": 'a "quoted" realm'}),
        Challenge("bearer", {"realm": "https://x.example/t", "service": "svc"}),
    ]


def test_parses_several_header_values_and_a_bare_scheme():
    assert [c.scheme for c in parse_www_authenticate(["Negotiate", 'Basic realm="r"'])] == ["negotiate", "basic"]


@pytest.mark.parametrize("value", ["", "   ", ",,", '"quoted"'])
def test_garbage_gives_no_challenge(value):
    assert parse_www_authenticate(value) == []


# ---------------------------------------------------------------------------- scripted registries


class Script:
    """Routes requests by (host, path) to handlers and records every request."""

    def __init__(self, routes):
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.routes.get((request.url.host, request.url.path))
        if handler is None:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        return handler(request)

    def to(self, host: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == host]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bearer_registry(host: str, realm: str, *, user: str | None, password: str | None, grants: set[str]):
    """A token registry: /v2/ and tags lists need a token whose scope is in `grants`."""
    issued: dict[str, str] = {}

    def challenge(scope=None, error=None):
        value = f'Bearer realm="{realm}",service="svc"' + (f',scope="{scope}"' if scope else "") + (f',error="{error}"' if error else "")
        return {"WWW-Authenticate": value}

    def token(request):
        if user is not None and request.headers.get("Authorization") != basic(user, password):
            return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED"}]})
        scope = request.url.params.get("scope", "")
        tok = f"tok-{len(issued)}"
        issued[tok] = scope
        return httpx.Response(200, json={"token": tok})

    def v2(request):
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in issued:
            return httpx.Response(200, json={})
        return httpx.Response(401, headers=challenge())

    def tags(repo):
        def handler(request):
            auth = request.headers.get("Authorization", "")
            scope = f"repository:{repo}:pull"
            if not (auth.startswith("Bearer ") and issued.get(auth[7:]) == scope and scope in grants):
                return httpx.Response(401, headers=challenge(scope, "insufficient_scope"), json={"errors": [{"code": "DENIED"}]})
            return httpx.Response(200, json={"name": repo, "tags": ["1.0.0"]})

        return handler

    return token, v2, tags


def run(script: Script, host: str, credentials=None, repos=(), *, insecure=False) -> tuple[oh.Outcome, list[oh.Outcome], Handshake]:
    client = httpx.Client(transport=httpx.MockTransport(script), follow_redirects=False)
    hs = Handshake(client, host, credentials, insecure=insecure)
    login = hs.login()
    return login, [hs.pull(r) for r in repos], hs


def test_bearer_flow_with_realm_on_another_host():
    token, v2, tags = bearer_registry("reg.example", "https://auth.example/token", user="u", password="p", grants={"repository:a/b:pull"})
    script = Script({("auth.example", "/token"): token, ("reg.example", "/v2/"): v2, ("reg.example", "/v2/a/b/tags/list"): tags("a/b"), ("reg.example", "/v2/c/d/tags/list"): tags("c/d")})
    login, (ok, denied), hs = run(script, "reg.example", ("u", "p"), ["a/b", "c/d"])
    assert login.status == oh.OK and "Bearer" in login.detail and "auth.example" in login.detail
    assert ok == oh.Outcome(oh.OK, "pull allowed")
    assert denied.status == oh.FORBIDDEN and "c/d" in denied.detail and "insufficient_scope" in denied.detail
    assert "token realm on another host: auth.example" in hs.notes
    # credentials went to the realm only, over https; the registry only saw tokens
    assert all(r.url.scheme == "https" for r in script.requests)
    assert all(not r.headers.get("Authorization", "").startswith("Basic") for r in script.to("reg.example"))
    scopes = [r.url.params.get("scope") for r in script.to("auth.example")]
    assert scopes == [None, "repository:a/b:pull", "repository:c/d:pull"]
    assert all(r.url.params.get("service") == "svc" and r.url.params.get("account") == "u" for r in script.to("auth.example"))


def test_wrong_password_at_the_realm_is_unauthorized():
    token, v2, _ = bearer_registry("reg.example", "https://auth.example/token", user="u", password="p", grants=set())
    script = Script({("auth.example", "/token"): token, ("reg.example", "/v2/"): v2})
    login, _, _ = run(script, "reg.example", ("u", "wrong"))
    assert login.status == oh.UNAUTHORIZED and "auth.example" in login.detail


def test_realm_on_another_host_over_plain_http_gets_no_credentials():
    token, v2, _ = bearer_registry("reg.example", "http://auth.example/token", user="u", password="p", grants=set())
    script = Script({("auth.example", "/token"): token, ("reg.example", "/v2/"): v2})
    login, _, hs = run(script, "reg.example", ("u", "p"))
    assert login.status == oh.TLS_ERROR and "plain HTTP" in login.detail and "not sent" in login.detail
    assert script.to("auth.example") == []
    assert "token realm on another host: auth.example" in hs.notes


def test_insecure_registry_never_sends_credentials_to_a_plain_http_realm_elsewhere():
    token, v2, _ = bearer_registry("reg.example", "http://auth.example/token", user="u", password="p", grants=set())
    script = Script({("auth.example", "/token"): token, ("reg.example", "/v2/"): v2})
    login, _, _ = run(script, "reg.example", ("u", "p"), insecure=True)
    assert login.status == oh.TLS_ERROR and script.to("auth.example") == []


def test_public_registry_takes_an_anonymous_token_even_from_a_plain_http_realm():
    token, v2, tags = bearer_registry("reg.example", "http://auth.example/token", user=None, password=None, grants={"repository:pub/x:pull"})
    script = Script({("auth.example", "/token"): token, ("reg.example", "/v2/"): v2, ("reg.example", "/v2/pub/x/tags/list"): tags("pub/x")})
    login, (repo,), _ = run(script, "reg.example", None, ["pub/x"])
    assert login.status == oh.OK and "anonymous" in login.detail
    assert repo.status == oh.OK
    assert all("Authorization" not in r.headers for r in script.to("auth.example"))


def test_public_registry_that_wants_a_login():
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="x"'})})
    login, _, _ = run(script, "reg.example", None)
    assert login.status == oh.UNAUTHORIZED and "declared public" in login.detail
    assert all("Authorization" not in r.headers for r in script.requests)


def test_basic_flow_statuses_per_repository():
    creds = basic("u", "p")

    def guarded(code_if_ok, body=None):
        def handler(request):
            if request.headers.get("Authorization") != creds:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return httpx.Response(code_if_ok, json=body or {})

        return handler

    script = Script({
        ("reg.example", "/v2/"): guarded(200),
        ("reg.example", "/v2/ok/tags/list"): guarded(200),
        ("reg.example", "/v2/prefix/tags/list"): guarded(404, {"errors": [{"code": "NAME_UNKNOWN"}]}),
        ("reg.example", "/v2/denied/tags/list"): guarded(403, {"errors": [{"code": "DENIED"}]}),
        ("reg.example", "/v2/broken/tags/list"): guarded(500),
    })
    login, (ok, prefix, denied, broken), _ = run(script, "reg.example", ("u", "p"), ["ok", "prefix", "denied", "broken"])
    assert login == oh.Outcome(oh.OK, "reg.example: login accepted (Basic)")
    assert ok.status == oh.OK
    assert prefix.status == oh.OK and "NAME_UNKNOWN" in prefix.detail and "nothing stored at exactly prefix" in prefix.detail
    assert denied.status == oh.FORBIDDEN and "DENIED" in denied.detail
    assert broken.status == oh.UNREACHABLE and "HTTP 500" in broken.detail
    # the first /v2/ carries nothing: credentials only after the challenge, as a runtime does
    assert "Authorization" not in script.requests[0].headers


def test_wrong_basic_password():
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})})
    login, _, _ = run(script, "reg.example", ("u", "nope"))
    assert login.status == oh.UNAUTHORIZED and "login refused (Basic" in login.detail


def test_open_v2_but_protected_repository_follows_the_repository_challenge():
    token, _, tags = bearer_registry("reg.example", "https://reg.example/token", user="u", password="p", grants={"repository:a/b:pull"})
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(200, json={}), ("reg.example", "/token"): token, ("reg.example", "/v2/a/b/tags/list"): tags("a/b")})
    login, (repo,), _ = run(script, "reg.example", ("u", "p"), ["a/b"])
    assert login.status == oh.OK and "not tested" in login.detail
    assert repo.status == oh.OK


def test_open_v2_then_refused_credentials_on_the_repository_is_unauthorized():
    def tags(request):
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(200, json={}), ("reg.example", "/v2/a/tags/list"): tags})
    _, (repo,), _ = run(script, "reg.example", ("u", "p"), ["a"])
    assert repo.status == oh.UNAUTHORIZED


@pytest.mark.parametrize("code", [302, 307])
def test_redirects_are_not_followed(code):
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(code, headers={"Location": "https://evil.example/v2/"})})
    login, _, _ = run(script, "reg.example", ("u", "p"))
    assert login.status == oh.UNREACHABLE and "redirect" in login.detail
    assert script.to("evil.example") == []


def test_not_a_registry():
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(404)})
    login, _, _ = run(script, "reg.example", ("u", "p"))
    assert login.status == oh.UNREACHABLE and "HTTP 404" in login.detail


def test_unknown_scheme_and_missing_realm():
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(401, headers={"WWW-Authenticate": "Negotiate"})})
    assert run(script, "reg.example", ("u", "p"))[0].status == oh.UNREACHABLE
    script = Script({("reg.example", "/v2/"): lambda r: httpx.Response(401, headers={"WWW-Authenticate": 'Bearer service="x"'})})
    login = run(script, "reg.example", ("u", "p"))[0]
    assert login.status == oh.UNREACHABLE and "without a realm" in login.detail


def test_realm_with_no_token_in_its_answer():
    script = Script({
        ("reg.example", "/v2/"): lambda r: httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://reg.example/t"'}),
        ("reg.example", "/t"): lambda r: httpx.Response(200, json={"nothing": 1}),
    })
    login = run(script, "reg.example", ("u", "p"))[0]
    assert login.status == oh.UNREACHABLE and "no token" in login.detail


def test_transport_errors_map_to_statuses():
    def refuse(request):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    assert run(Script({("reg.example", "/v2/"): refuse}), "reg.example", ("u", "p"))[0] == oh.Outcome(oh.UNREACHABLE, "reg.example: connection refused", "refused")
    login = run(Script({("reg.example", "/v2/"): slow}), "reg.example", ("u", "p"))[0]
    assert login.status == oh.UNREACHABLE and "no answer within 10 s" in login.detail


def test_trace_never_holds_credentials_or_tokens():
    token, v2, tags = bearer_registry("reg.example", "https://auth.example/token", user="u", password="pa55word-xyz", grants={"repository:a/b:pull"})
    script = Script({("auth.example", "/token"): token, ("reg.example", "/v2/"): v2, ("reg.example", "/v2/a/b/tags/list"): tags("a/b")})
    _, _, hs = run(script, "reg.example", ("u", "pa55word-xyz"), ["a/b"])
    joined = "\n".join(hs.trace)
    assert "pa55word" not in joined and "tok-" not in joined and basic("u", "pa55word-xyz")[6:] not in joined
    assert "GET https://auth.example/token (with credentials) -> 200" in joined
    assert "GET https://reg.example/v2/a/b/tags/list (with a token) -> 200" in joined
