"""`regops verify` as a command: input errors as in render, skips, provider mappings (scripted network)."""

from __future__ import annotations

import base64
import json
import shutil

import httpx
import pytest
from click.testing import CliRunner
from verifykit import CONFIG_KEY, ROOT, registry_entry, verify, write_config

from compiler import verification
from compiler.cli import cli

EXAMPLE = ROOT / "examples" / "basic"


def render(config, key=CONFIG_KEY):
    env = {"SOPS_AGE_KEY_FILE": str(key) if key else None, "SOPS_AGE_KEY": None, "SOPS_AGE_KEY_CMD": None, "SOPS_DISABLE_VERSION_CHECK": "1"}
    return CliRunner(env=env).invoke(cli, ["render", "--config", str(config), "--check"])


# ---------------------------------------------------------------------------- input errors: as render


def test_invalid_config_is_reported_exactly_as_render_does(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, cfg, ignore=shutil.ignore_patterns("rendered"))
    text = (cfg / "registries.yaml").read_text()
    (cfg / "registries.yaml").write_text(text.replace("url: quay.io", "url: https://quay.io", 1))
    run, rendered = verify(cfg), render(cfg)
    assert run.code == rendered.exit_code == 1
    assert run.stdout == rendered.stdout
    assert "write 'quay.io', not 'https://quay.io'" in run.stdout
    assert "no registry was checked" in run.stderr


def test_missing_key_is_reported_exactly_as_render_does(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, cfg, ignore=shutil.ignore_patterns("rendered"))
    run, rendered = verify(cfg, key=None), render(cfg, key=None)
    assert run.code == rendered.exit_code == 1
    assert run.stdout == rendered.stdout
    assert "cannot decrypt: no key can decrypt it" in run.stdout


def test_json_format_of_input_errors(tmp_path):
    cfg = tmp_path / "cfg"
    shutil.copytree(EXAMPLE, cfg, ignore=shutil.ignore_patterns("rendered"))
    run = verify(cfg, "--format", "json", key=None)
    assert run.code == 1
    assert json.loads(run.stdout)["valid"] is False


def test_registry_option_matching_nothing():
    run = verify(EXAMPLE, "--registry", "nope-*")
    assert run.code == 1
    assert "--registry nope-* matches no registry" in run.stdout


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--format", "yaml"]])
def test_usage_errors(args):
    assert verify(EXAMPLE, *args).code == 2


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["verify", "--help"])
    assert result.exit_code == 0
    assert "regops verify --config examples/basic" in result.output
    assert "ok, unauthorized, forbidden, tls-error, unreachable" in result.output


# ---------------------------------------------------------------------------- skipped, no network


def test_skips_say_why_and_touch_no_network():
    run = verify(EXAMPLE, "--format", "json", "--registry", "ecr-*", "--registry", "artifactory-mirror")
    assert run.code == 0, run
    got = {r["name"]: r for r in run.json["registries"]}
    assert {r["status"] for r in got.values()} == {"skipped"}
    assert "External Secrets" in got["ecr-prod"]["detail"] and "AWS API" in got["ecr-prod"]["detail"]
    assert "iam-role" in got["ecr-govcloud"]["detail"]
    assert "artifactory-pull" in got["artifactory-mirror"]["detail"]
    assert all(p["status"] == "skipped" for p in got["ecr-prod"]["repositories"])
    assert run.json["ok"] is True


def test_skips_in_github_format_are_notices():
    run = verify(EXAMPLE, "--format", "github", "--registry", "ecr-govcloud")
    assert run.code == 0
    first, summary = run.stdout.splitlines()
    assert first.startswith("::notice file=") and "title=regops verify ecr-govcloud::skipped: " in first
    assert summary == "1 registry checked: 1 skipped"


# ---------------------------------------------------------------------------- provider mappings (SPEC 1.1)

GCP_KEY = json.dumps({
    "type": "service_account", "project_id": "acme", "private_key_id": "abc",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIfake\n-----END PRIVATE KEY-----\n",
    "client_email": "puller@acme.iam.gserviceaccount.com",
}, indent=4)


class TokenWorld:
    """Well-known registries scripted: /v2/ asks for Bearer from `realm`; the realm checks Basic credentials."""

    def __init__(self, hosts: dict[str, str], expected: dict[str, tuple[str, str]]):
        self.hosts, self.expected = hosts, expected  # registry host -> realm URL; realm host -> (user, password)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host = request.url.host
        realms = {str(httpx.URL(realm).copy_with(query=None)) for realm in self.hosts.values()}
        if host in self.hosts and str(request.url.copy_with(query=None)) not in realms:
            if request.headers.get("Authorization") == "Bearer good-token":
                return httpx.Response(200, json={})
            return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="{self.hosts[host]}",service="{host}"'})
        user, password = self.expected[host]
        want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if request.headers.get("Authorization") != want:
            return httpx.Response(401, json={"details": "incorrect username or password"})
        return httpx.Response(200, json={"token": "good-token"})


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(CONFIG_KEY))
    monkeypatch.setenv("SOPS_DISABLE_VERSION_CHECK", "1")


def test_well_known_endpoints_and_credential_mapping(tmp_path, key_env):
    entries = [
        {"name": "hub", "provider": "docker", "url": "docker.io", "auth": {"username": "acme-bot", "password": "hub-access-token-1"}, "useAsChartRepository": True, "chartRepositories": ["acme/charts"]},
        {"name": "quay", "provider": "quay", "auth": {"username": "acme+robot", "token": "QUAYROBOTTOKEN123"}},
        {"name": "gcr", "provider": "gcr", "url": "eu.gcr.io", "auth": {"serviceAccountKey": GCP_KEY}},
        {"name": "gar", "provider": "artifact-registry", "url": "europe-west1-docker.pkg.dev", "auth": {"serviceAccountKey": GCP_KEY}},
        {"name": "acr", "provider": "azure", "url": "acmeprod.azurecr.io", "auth": {"username": "sp-id", "password": "sp-secret-42"}},
    ]
    cfg = write_config(tmp_path, entries)
    compact = json.dumps(json.loads(GCP_KEY), separators=(",", ":"))
    world = TokenWorld(
        {
            "registry-1.docker.io": "https://auth.docker.io/token",
            "quay.io": "https://quay.io/v2/auth",
            "eu.gcr.io": "https://eu.gcr.io/v2/token",
            "europe-west1-docker.pkg.dev": "https://europe-west1-docker.pkg.dev/v2/token",
            "acmeprod.azurecr.io": "https://acmeprod.azurecr.io/oauth2/token",
        },
        {
            "auth.docker.io": ("acme-bot", "hub-access-token-1"),
            "quay.io": ("acme+robot", "QUAYROBOTTOKEN123"),
            "eu.gcr.io": ("_json_key", compact),
            "europe-west1-docker.pkg.dev": ("_json_key", compact),
            "acmeprod.azurecr.io": ("sp-id", "sp-secret-42"),
        },
    )

    def route(request):
        if request.url.path.endswith("/tags/list"):
            world.requests.append(request)
            return httpx.Response(200, json={"tags": ["1.0.0"]}) if request.headers.get("Authorization") == "Bearer good-token" else httpx.Response(401)
        return world(request)

    result = verification.run(verification.VerifyRequest(cfg), transport=httpx.MockTransport(route))
    assert result.problems == []
    got = {r.name: r for r in result.registries}
    assert {n: r.status for n, r in got.items()} == {"hub": "ok", "quay": "ok", "gcr": "ok", "gar": "ok", "acr": "ok"}, {n: r.detail for n, r in got.items()}
    # Docker Hub: the OCI endpoint, and the token from auth.docker.io (another host, over TLS)
    assert got["hub"].endpoint == "registry-1.docker.io"
    assert "token realm on another host: auth.docker.io" in got["hub"].notes
    assert got["hub"].repositories[0].status == "ok"
    hub_realm = [r for r in world.requests if r.url.host == "auth.docker.io"]
    assert [r.url.params.get("scope") for r in hub_realm] == [None, "repository:acme/charts:pull"]
    assert all(r.url.params.get("service") == "registry-1.docker.io" for r in hub_realm)
    assert all(r.url.scheme == "https" for r in world.requests)
    assert {r.url.host for r in world.requests} == set(world.hosts) | {"auth.docker.io"}


def test_wrong_docker_hub_token_is_unauthorized(tmp_path, key_env):
    cfg = write_config(tmp_path, [{"name": "hub", "provider": "docker", "auth": {"username": "acme-bot", "password": "revoked-token"}}])
    world = TokenWorld({"registry-1.docker.io": "https://auth.docker.io/token"}, {"auth.docker.io": ("acme-bot", "current-token")})
    (reg,) = verification.run(verification.VerifyRequest(cfg), transport=httpx.MockTransport(world)).registries
    assert reg.status == "unauthorized" and "auth.docker.io" in reg.detail


def test_unusable_gcp_key_is_never_sent(tmp_path, key_env):
    cfg = write_config(tmp_path, [{"name": "gcr", "provider": "gcr", "url": "gcr.io", "auth": {"serviceAccountKey": "{not json at all"}}])
    seen: list = []
    (reg,) = verification.run(verification.VerifyRequest(cfg), transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(500))).registries
    assert reg.status == "unauthorized" and "credentials not sent" in reg.detail and "not JSON" in reg.detail
    assert "not json at all" not in reg.detail
    assert seen == []


def test_registries_are_checked_concurrently_with_a_bound(tmp_path, key_env, monkeypatch):
    import threading
    import time

    entries = [registry_entry(f"r{i}", f"r{i}.example", type="public") for i in range(12)]
    cfg = write_config(tmp_path, entries)
    lock, active, peak = threading.Lock(), [0], [0]

    def slow(request):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.1)
        with lock:
            active[0] -= 1
        return httpx.Response(200, json={})

    result = verification.run(verification.VerifyRequest(cfg), transport=httpx.MockTransport(slow))
    assert [r.status for r in result.registries] == ["ok"] * 12
    assert [r.name for r in result.registries] == [f"r{i}" for i in range(12)]
    assert 1 < peak[0] <= verification.POOL_SIZE
