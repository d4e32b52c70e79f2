"""The OCI distribution login, done the way a container runtime does it.

`GET /v2/` unauthenticated; the 401's `WWW-Authenticate` names the scheme:
Basic (send the credentials to the registry) or Bearer (get a token from the
realm it names, for the service and scope it names, then retry with it). A
pull check asks for `repository:<path>:pull` and lists the repository's tags.

Network trouble never raises: every step ends in an Outcome with one of the
statuses below. Credentials go only to the registry's own origin and to the
token realm it names, only over TLS (plain HTTP only to the origin of a
registry declared insecure), and redirects are never followed. The caller
provides the httpx clients (TLS settings, timeouts); this module is only the
protocol, so tests can drive it with a mock transport.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import socket
import ssl

import httpx

from . import redact

OK = "ok"
UNAUTHORIZED = "unauthorized"  # the login was refused
FORBIDDEN = "forbidden"  # the login was accepted, pull on that repository was not
TLS_ERROR = "tls-error"
UNREACHABLE = "unreachable"
SKIPPED = "skipped"
STATUSES = (OK, UNAUTHORIZED, FORBIDDEN, TLS_ERROR, UNREACHABLE, SKIPPED)


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str
    detail: str
    cause: str = ""  # for failed requests: timeout, dns, refused, tls, closed or other


@dataclasses.dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer", ...
    params: dict[str, str]


# RFC 7235: challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ], several per header.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SCHEME_RE = re.compile(rf"[\s,]*({_TOKEN})(?=\s|,|$)")
_PARAM_RE = re.compile(rf'\s*({_TOKEN})\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)\s*(?:,|$)')


def parse_www_authenticate(values: list[str] | str) -> list[Challenge]:
    """Challenges of one or more WWW-Authenticate header values; unknown syntax is skipped."""
    found: list[Challenge] = []
    for value in [values] if isinstance(values, str) else values:
        pos = 0
        while pos < len(value):
            m = _SCHEME_RE.match(value, pos)
            if not m:
                break
            scheme, pos = m.group(1).lower(), m.end()
            params: dict[str, str] = {}
            while True:
                p = _PARAM_RE.match(value, pos)
                if not p:
                    break
                raw = p.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[p.group(1).lower()] = raw
                pos = p.end()
            found.append(Challenge(scheme, params))
    return found


def basic_header(username: str, password: str) -> str:
    pair = f"{username}:{password}"
    redact.register(pair)  # its base64 form is the header: scrubbed like the password
    return "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    port = url.port or (443 if url.scheme == "https" else 80)
    return url.scheme, url.host, port


def _authority(url: httpx.URL) -> str:
    return f"{url.host}:{url.port}" if url.port else url.host


class Handshake:
    """One registry's login and pull checks; keeps the auth that worked for later requests."""

    def __init__(
        self,
        client: httpx.Client,
        host: str,
        credentials: tuple[str, str] | None,
        *,
        insecure: bool = False,
        realm_client: httpx.Client | None = None,
        timeout: float = 10.0,
    ):
        self.client = client
        self.realm_client = realm_client or client  # for a realm on another host: always verified TLS
        self.host = host
        self.credentials = credentials
        self.insecure = insecure
        self.timeout = timeout
        self.base: httpx.URL | None = None
        self.trace: list[str] = []  # method, URL without query, status: never a header
        self.notes: list[str] = []
        self._bearer: Challenge | None = None  # the registry's Bearer challenge, once seen
        self._basic = False  # the registry asked for Basic
        self._verified = False  # the credentials were accepted once
        self._realm_note = ""  # host of a token realm that is not the registry's

    # ---- login

    def login(self) -> Outcome:
        response, failed = self._ping()
        if failed:
            return failed
        assert response is not None and self.base is not None
        code = response.status_code
        if code == 200:
            if self.credentials:
                return Outcome(OK, f"{self.host}: /v2/ needs no login; the credentials were not tested there")
            return Outcome(OK, f"{self.host}: anonymous access")
        if code != 401:
            return Outcome(UNREACHABLE, f"{self.host}: /v2/ answered HTTP {code}, not what an OCI registry answers (200 or 401)")
        challenges = parse_www_authenticate(response.headers.get_list("www-authenticate"))
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme:
            return self._bearer_login(by_scheme["bearer"])
        if "basic" in by_scheme:
            return self._basic_login()
        schemes = ", ".join(sorted(by_scheme)) or "none"
        return Outcome(UNREACHABLE, f"{self.host}: unsupported authentication scheme ({schemes}); expected Basic or Bearer")

    def _ping(self) -> tuple[httpx.Response | None, Outcome | None]:
        https = httpx.URL(f"https://{self.host}/v2/")
        response, failed = self._send(self.client, https, None, where=self.host)
        if failed is None:
            self.base = https.copy_with(path="/")
            return response, None
        if self.insecure and failed.cause in ("tls", "closed", "other"):
            # Like Docker's insecure-registries: HTTPS without verification first, then plain HTTP.
            plain = httpx.URL(f"http://{self.host}/v2/")
            response, second = self._send(self.client, plain, None, where=self.host)
            if second is None:
                self.base = plain.copy_with(path="/")
                self.notes.append("plain HTTP (connection: insecure)")
                return response, None
            return None, second if failed.status == TLS_ERROR else failed
        return None, failed

    def _basic_login(self) -> Outcome:
        self._basic = True
        if not self.credentials:
            return Outcome(UNAUTHORIZED, f"{self.host}: asks for a login (Basic), but the registry is declared public")
        response, failed = self._send(self.client, self._url("/v2/"), self._basic_header(), where=self.host)
        if failed:
            return failed
        if response.status_code == 200:
            self._verified = True
            return Outcome(OK, f"{self.host}: login accepted (Basic)")
        if response.status_code in (401, 403):
            return Outcome(UNAUTHORIZED, f"{self.host}: login refused (Basic, HTTP {response.status_code})")
        return Outcome(UNREACHABLE, f"{self.host}: /v2/ answered HTTP {response.status_code} to the login")

    def _bearer_login(self, challenge: Challenge) -> Outcome:
        self._bearer = challenge
        token, failed = self._token(challenge, challenge.params.get("scope"), login=True)
        if failed:
            return failed
        response, failed = self._send(self.client, self._url("/v2/"), f"Bearer {token}", where=self.host)
        if failed:
            return failed
        how = "Bearer" + (f", token from {self._realm_note}" if self._realm_note else "")
        if response.status_code == 200:
            if self.credentials:
                self._verified = True
                return Outcome(OK, f"{self.host}: login accepted ({how})")
            return Outcome(OK, f"{self.host}: anonymous access ({how})")
        if response.status_code in (401, 403):
            if not self.credentials:
                return Outcome(UNAUTHORIZED, f"{self.host}: anonymous token refused ({how}); the registry is declared public")
            return Outcome(UNAUTHORIZED, f"{self.host}: login refused ({how}: the registry rejected the token, HTTP {response.status_code})")
        return Outcome(UNREACHABLE, f"{self.host}: /v2/ answered HTTP {response.status_code} to the token")

    # ---- pull check

    def pull(self, repository: str) -> Outcome:
        """Can these credentials pull from `repository`? Call after a successful login."""
        url = self._url(f"/v2/{repository}/tags/list")
        scope = f"repository:{repository}:pull"
        sent_credentials = False
        if self._bearer is not None:
            token, failed = self._token(self._bearer, scope, login=False)
            if failed:
                return failed
            authorization = f"Bearer {token}"
            sent_credentials = bool(self.credentials)
        elif self._basic and self.credentials:
            authorization, sent_credentials = self._basic_header(), True
        else:
            authorization = None
        response, failed = self._send(self.client, url, authorization, where=self.host)
        if failed:
            return failed
        if response.status_code == 401 and authorization is None:
            # /v2/ was open but the repository is not: follow its challenge once.
            challenges = {c.scheme: c for c in parse_www_authenticate(response.headers.get_list("www-authenticate"))}
            if "bearer" in challenges:
                self._bearer = challenges["bearer"]
                token, failed = self._token(self._bearer, scope, login=False)
                if failed:
                    return failed
                authorization, sent_credentials = f"Bearer {token}", bool(self.credentials)
            elif "basic" in challenges and self.credentials:
                self._basic = True
                authorization, sent_credentials = self._basic_header(), True
            if authorization is not None:
                response, failed = self._send(self.client, url, authorization, where=self.host)
                if failed:
                    return failed
        return self._pull_outcome(repository, response, sent_credentials)

    def _pull_outcome(self, repository: str, response: httpx.Response, sent_credentials: bool) -> Outcome:
        code = response.status_code
        if code == 200:
            if sent_credentials:
                self._verified = True
            return Outcome(OK, "pull allowed")
        if code == 404:
            # Registries check access before existence: the scope was granted. A chart
            # repository is often a prefix (charts live at <path>/<chart>), so no error.
            reason = _error_code(response)
            return Outcome(OK, f"pull allowed; nothing stored at exactly {repository} ({reason or 'HTTP 404'}), as usual when charts live under it")
        if code in (401, 403):
            reason = _error_code(response) or f"HTTP {code}"
            if sent_credentials and not self._verified:
                return Outcome(UNAUTHORIZED, f"login refused on {repository} ({reason})")
            who = "the login was accepted" if self.credentials else "anonymous access"
            return Outcome(FORBIDDEN, f"{who}, but pull on {repository} was refused ({reason})")
        return Outcome(UNREACHABLE, f"{repository}: HTTP {code} from the tag list")

    # ---- Bearer tokens

    def _token(self, challenge: Challenge, scope: str | None, *, login: bool) -> tuple[str | None, Outcome | None]:
        realm = challenge.params.get("realm")
        if not realm:
            return None, Outcome(UNREACHABLE, f"{self.host}: Bearer challenge without a realm")
        try:
            url = httpx.URL(realm)
        except (httpx.InvalidURL, TypeError):
            return None, Outcome(UNREACHABLE, f"{self.host}: the token realm is not a URL")
        if url.scheme not in ("http", "https") or not url.host:
            return None, Outcome(UNREACHABLE, f"{self.host}: the token realm is not an http(s) URL")
        assert self.base is not None
        same_origin = _origin(url) == _origin(self.base)
        realm_at = _authority(url)
        if not same_origin:
            self._realm_note = realm_at
            note = f"token realm on another host: {realm_at}"
            if note not in self.notes:
                self.notes.append(note)
        if self.credentials and url.scheme != "https" and not (same_origin and self.insecure):
            return None, Outcome(TLS_ERROR, f"{self.host}: the token realm {realm_at} is plain HTTP; the credentials were not sent")
        query = {}
        if challenge.params.get("service"):
            query["service"] = challenge.params["service"]
        if scope:
            query["scope"] = scope
        if self.credentials:
            query["account"] = self.credentials[0]
        client = self.client if same_origin else self.realm_client
        authorization = self._basic_header() if self.credentials else None
        response, failed = self._send(client, url.copy_merge_params(query), authorization, where=f"token realm {realm_at}")
        if failed:
            return None, failed
        code = response.status_code
        if code in (401, 403):
            if not self.credentials:
                return None, Outcome(UNAUTHORIZED, f"token realm {realm_at} refused an anonymous token (HTTP {code}); the registry is declared public")
            if login or not self._verified:
                return None, Outcome(UNAUTHORIZED, f"{self.host}: login refused by the token realm {realm_at} (HTTP {code})")
            return None, Outcome(FORBIDDEN, f"the login was accepted, but the token realm {realm_at} refused {scope} (HTTP {code})")
        if code != 200:
            return None, Outcome(UNREACHABLE, f"token realm {realm_at} answered HTTP {code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            return None, Outcome(UNREACHABLE, f"token realm {realm_at} returned no token")
        redact.register(token)
        return token, None

    # ---- HTTP

    def _url(self, path: str) -> httpx.URL:
        assert self.base is not None
        return self.base.copy_with(path=path)

    def _basic_header(self) -> str:
        assert self.credentials is not None
        return basic_header(*self.credentials)

    def _send(self, client: httpx.Client, url: httpx.URL, authorization: str | None, *, where: str) -> tuple[httpx.Response | None, Outcome | None]:
        if authorization and authorization.startswith("Basic ") and url.scheme != "https" and not self.insecure:
            return None, Outcome(TLS_ERROR, f"{where}: refusing to send credentials over plain HTTP")
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        shown = str(url.copy_with(query=None))
        sent = {None: "", "Basic": " (with credentials)", "Bearer": " (with a token)"}[authorization.split(" ", 1)[0] if authorization else None]
        try:
            response = client.get(url, headers=headers, follow_redirects=False)
        except httpx.HTTPError as exc:
            outcome = transport_outcome(exc, where, self.timeout)
            self.trace.append(f"GET {shown}{sent} -> {outcome.status} ({outcome.cause})")
            return None, outcome
        challenge = ", ".join(sorted({c.scheme.capitalize() for c in parse_www_authenticate(response.headers.get_list("www-authenticate"))}))
        self.trace.append(f"GET {shown}{sent} -> {response.status_code}" + (f" {challenge}" if challenge else ""))
        if response.is_redirect:
            return None, Outcome(UNREACHABLE, f"{where}: redirected (HTTP {response.status_code}); redirects are not followed")
        return response, None


def _error_code(response: httpx.Response) -> str:
    """The registry's error code(s) (NAME_UNKNOWN, DENIED, insufficient_scope...), if it gave any."""
    codes: list[str] = []
    for c in parse_www_authenticate(response.headers.get_list("www-authenticate")):
        if c.params.get("error"):
            codes.append(c.params["error"])
    try:
        body = response.json()
    except ValueError:
        body = None
    for err in (body or {}).get("errors") or [] if isinstance(body, dict) else []:
        if isinstance(err, dict) and isinstance(err.get("code"), str) and re.fullmatch(r"[A-Za-z_]{1,40}", err["code"]):
            codes.append(err["code"])
    return ", ".join(dict.fromkeys(codes))


def transport_outcome(exc: BaseException, where: str, timeout: float) -> Outcome:
    """A status for a failed request; built from error types and codes, never from request data."""
    if isinstance(exc, httpx.TimeoutException):
        return Outcome(UNREACHABLE, f"{where}: no answer within {timeout:g} s", "timeout")
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return Outcome(TLS_ERROR, f"{where}: certificate not trusted: {e.verify_message or e.reason}", "tls")
    for e in chain:
        if isinstance(e, ssl.SSLError):
            reason = (e.reason or type(e).__name__).replace("_", " ").lower()
            hint = " (does it speak plain HTTP? then it needs connection: insecure)" if "wrong version" in reason or "record layer" in reason else ""
            return Outcome(TLS_ERROR, f"{where}: TLS handshake failed: {reason}{hint}", "tls")
    for e in chain:
        if isinstance(e, ConnectionRefusedError):
            return Outcome(UNREACHABLE, f"{where}: connection refused", "refused")
        if isinstance(e, socket.gaierror):
            return Outcome(UNREACHABLE, f"{where}: cannot resolve the host name", "dns")
        if isinstance(e, OSError) and e.strerror:
            return Outcome(UNREACHABLE, f"{where}: {e.strerror.lower()}", "other")
    if isinstance(exc, httpx.RemoteProtocolError):
        return Outcome(UNREACHABLE, f"{where}: the connection was closed or answered something that is not HTTP", "closed")
    if isinstance(exc, httpx.ConnectError):
        # httpcore often flattens the OS error into text: keep only well-known words.
        text = str(exc).lower()
        if "refused" in text:
            return Outcome(UNREACHABLE, f"{where}: connection refused", "refused")
        if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
            return Outcome(UNREACHABLE, f"{where}: cannot resolve the host name", "dns")
        return Outcome(UNREACHABLE, f"{where}: cannot connect", "other")
    return Outcome(UNREACHABLE, f"{where}: {type(exc).__name__}", "other")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in seen and len(seen) < 16:
        seen.append(e)
        e = e.__cause__ or e.__context__
    return seen
