"""Test kit for `regops verify`: a test PKI, real docker-registry servers, a token issuer, config dirs.

The registry is the Debian `docker-registry` package (distribution 2.8). It is
started on 127.0.0.1 with its own storage and config; with htpasswd Basic auth,
or with token auth trusting the issuer below, which signs ES256 JWTs carrying
its certificate in the `x5c` header (the registry verifies that chain against
`rootcertbundle`) and grants pull/push per user and repository from a table.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import bcrypt
import httpx
import yaml
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from compiler.cli import cli
from compiler.sopsbin import sops_binary_path

# Accounts of the test registries (conftest, tests). Passwords look like real ones, so that a leak is findable.
USERS = {"alice": "s3cret-Alice-pw-7f3a9c", "pusher": "pusher-pw-0b1e55", "carol": "Carol-only-demo-pw-42d1"}

ROOT = Path(__file__).resolve().parents[2]
CONFIG_KEY = ROOT / "examples" / "basic" / "keys" / "config.agekey"
CONFIG_RECIPIENT = "age1pum7ehuqyd2xtwr06uhadfchgna9r3guf60ng3kzxxq9q9v27ssqx0pkg0"
AGE_CLUSTER = "age1up0j744yymsyr4atqh9s7ra0tn7ppsxth6w87x2c4jdq5hg28yqsqupeem"
REGISTRY_BIN = shutil.which("docker-registry")
SKIP_REASON = "docker-registry not installed (apt-get install docker-registry; .ci/run does it)"

# ---------------------------------------------------------------------------- PKI


class Pki:
    """A CA, a server certificate for 127.0.0.1 signed by it, and PEM files of both."""

    def __init__(self, directory: Path, name: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"regops test CA {name}")])
        self.ca_cert = (
            _builder(subject, subject, self.ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.server_key = ec.generate_private_key(ec.SECP256R1())
        self.server_cert = (
            _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), subject, self.server_key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_pem = self.ca_cert.public_bytes(serialization.Encoding.PEM).decode()
        self.cert_file = directory / f"{name}-server.crt"
        self.key_file = directory / f"{name}-server.key"
        self.ca_file = directory / f"{name}-ca.crt"
        self.cert_file.write_bytes(self.server_cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(_key_pem(self.server_key))
        self.ca_file.write_text(self.ca_pem)

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def _builder(subject, issuer, public_key) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
    )


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text() if log else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


# ---------------------------------------------------------------------------- token issuer


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenIssuer:
    """A distribution token server: Basic-authenticates users, grants scopes from a table, signs ES256 JWTs.

    `grants` maps a user ("" is anonymous) to {repository: {actions}}. Every
    request is recorded (path, whether it carried credentials) for assertions.
    """

    ISSUER = "regops-test-issuer"

    def __init__(self, directory: Path, users: dict[str, str], grants: dict[str, dict[str, set[str]]], *, pki: Pki | None):
        directory.mkdir(parents=True, exist_ok=True)
        self.users, self.grants = users, grants
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regops test token signer")])
        self.cert = _builder(name, name, self.key.public_key()).sign(self.key, hashes.SHA256())
        self.bundle = directory / "token-signer.crt"
        self.bundle.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict] = []
        self.tokens: list[str] = []  # every token handed out, for leak checks
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                issuer._handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.tls = pki is not None
        if pki is not None:
            self.server.socket = pki.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.realm = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def mint(self, service: str, subject: str, access: list[dict]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": self.ISSUER, "sub": subject, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = f"{_b64url(json.dumps(header, separators=(',', ':')).encode())}.{_b64url(json.dumps(claims, separators=(',', ':')).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def _handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(req.path)
        query = urllib.parse.parse_qs(url.query)
        authorization = req.headers.get("Authorization")
        self.requests.append({"path": url.path, "credentials": authorization is not None, "query": query})
        user = ""
        if authorization:
            try:
                scheme, _, value = authorization.partition(" ")
                name, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                scheme, name, password = "", "", ""
            if scheme != "Basic" or self.users.get(name) != password or name not in self.users:
                return self._reply(req, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
            user = name
        access = []
        for scope in " ".join(query.get("scope", [])).split():
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            granted = sorted(set(actions.split(",")) & self.grants.get(user, {}).get(repo, set()))
            access.append({"type": kind, "name": repo, "actions": granted})
        token = self.mint(query.get("service", [""])[0], user, access)
        self.tokens.append(token)
        self._reply(req, 200, {"token": token, "access_token": token, "expires_in": 300})

    @staticmethod
    def _reply(req, code: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        req.send_response(code)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(raw)))
        req.end_headers()
        req.wfile.write(raw)


# ---------------------------------------------------------------------------- docker-registry


class Registry:
    """One docker-registry process on 127.0.0.1 with its own storage."""

    def __init__(self, directory: Path, *, pki: Pki | None = None, users: dict[str, str] | None = None, issuer: TokenIssuer | None = None, service: str = "regops-test"):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir, self.pki, self.issuer, self.service = directory, pki, issuer, service
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.scheme = "https" if pki else "http"
        http_cfg: dict = {"addr": self.host, "secret": uuid.uuid4().hex}
        if pki is not None:
            http_cfg["tls"] = {"certificate": str(pki.cert_file), "key": str(pki.key_file)}
        config: dict = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(directory / "storage")}, "delete": {"enabled": True}},
            "http": http_cfg,
        }
        if issuer is not None:
            config["auth"] = {"token": {"realm": issuer.realm, "service": service, "issuer": issuer.ISSUER, "rootcertbundle": str(issuer.bundle)}}
        elif users is not None:
            htpasswd = directory / "htpasswd"
            htpasswd.write_text("".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for u, p in users.items()))
            config["auth"] = {"htpasswd": {"realm": "regops-test", "path": str(htpasswd)}}
        self.config_file = directory / "config.yml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.log = directory / "registry.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.config_file)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        wait_port(self.port, proc=self.proc, log=self.log)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # -- pushing a Helm chart artifact, so that tag lists exist

    def push_chart(self, repository: str, *, auth: tuple[str, str] | None = None) -> None:
        headers = {}
        if self.issuer is not None:
            token = self.issuer.mint(self.service, "pusher", [{"type": "repository", "name": repository, "actions": ["pull", "push"]}])
            headers["Authorization"] = f"Bearer {token}"
        verify = ssl.create_default_context(cafile=str(self.pki.ca_file)) if self.pki else False
        with httpx.Client(base_url=f"{self.scheme}://{self.host}", verify=verify, auth=auth, headers=headers, timeout=10, trust_env=False) as client:
            config = b'{"name":"demo","version":"0.1.0","apiVersion":"v2"}'
            layer = b"not really a chart tarball"
            for blob in (config, layer):
                start = client.post(f"/v2/{repository}/blobs/uploads/")
                assert start.status_code == 202, start.text
                location = httpx.URL(start.headers["Location"])
                done = client.put(location.copy_merge_params({"digest": _digest(blob)}), content=blob, headers={"Content-Type": "application/octet-stream"})
                assert done.status_code == 201, done.text
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": _digest(config), "size": len(config)},
                "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": _digest(layer), "size": len(layer)}],
            }
            put = client.put(f"/v2/{repository}/manifests/0.1.0", content=json.dumps(manifest), headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            assert put.status_code == 201, put.text


def _digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


# ---------------------------------------------------------------------------- other servers


class SlowProxy:
    """Forwards TCP to a target port, holding every answer back by `delay` seconds."""

    def __init__(self, target_port: int, delay: float):
        self.target_port, self.delay = target_port, delay
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return

        def pump(src, dst, delay):
            try:
                first = True
                while data := src.recv(65536):
                    if first and delay:
                        time.sleep(delay)
                    first = False
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(client, upstream, 0), daemon=True).start()
        pump(upstream, client, self.delay)

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class Recorder:
    """A plain-HTTP server that answers 401 Basic and records every request's Authorization header."""

    def __init__(self):
        self.requests: list[dict] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                recorder.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="recorder"')
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------- config dirs and runs


def registry_entry(name: str, host: str, *, user: str | None = None, password: str | None = None, repos: list[str] | None = None, **extra) -> dict:
    entry: dict = {"name": name, "provider": "other", "url": host}
    if user is not None:
        entry["auth"] = {"username": user, "password": password}
    if repos:
        entry["useAsChartRepository"] = True
        entry["chartRepositories"] = repos
    entry.update(extra)
    return entry


def write_config(directory: Path, registries: list[dict], *, encrypt: bool = True) -> Path:
    """A config dir with these registries (secret fields sops-encrypted for the demo config key)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "clusters.yaml").write_text(yaml.safe_dump({
        "apiVersion": "regops.io/v1alpha1", "kind": "Clusters",
        "clusters": [{"name": "test", "syncTool": "flux", "kubernetesVersion": "1.31", "namespaces": ["apps"], "recipients": {"age": [AGE_CLUSTER]}}],
    }))
    (directory / "registries.yaml").write_text(yaml.safe_dump({"apiVersion": "regops.io/v1alpha1", "kind": "Registries", "registries": registries}, sort_keys=False))
    if encrypt and any("auth" in r for r in registries):
        env = dict(os.environ, SOPS_DISABLE_VERSION_CHECK="1")
        subprocess.run(
            [sops_binary_path(), "encrypt", "-i", "--age", CONFIG_RECIPIENT, "--encrypted-regex", "^(password|token|serviceAccountKey|accessKeyId|secretAccessKey)$", "registries.yaml"],
            cwd=directory, env=env, check=True, capture_output=True,
        )
    return directory


class Run:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    def registry(self, name: str) -> dict:
        return next(r for r in self.json["registries"] if r["name"] == name)

    def __repr__(self) -> str:
        return f"Run(code={self.code}, stdout={self.stdout[-3000:]!r}, stderr={self.stderr[-2000:]!r})"


def verify(config: Path, *args: str, key: Path | None = CONFIG_KEY, verbose: bool = False) -> Run:
    """`regops verify --config CONFIG ARGS` in process, stdout and stderr apart."""
    env = {"SOPS_AGE_KEY_FILE": str(key) if key else None, "SOPS_AGE_KEY": None, "SOPS_AGE_KEY_CMD": None, "SOPS_DISABLE_VERSION_CHECK": "1"}
    argv = (["-v"] if verbose else []) + ["verify", "--config", str(config), *args]
    result = CliRunner(env=env).invoke(cli, argv)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)
