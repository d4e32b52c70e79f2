"""Nothing secret in any output of `regops verify`, at any verbosity, in any format, even on a crash."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest
from verifykit import USERS
from verifykit import CONFIG_KEY, ROOT, registry_entry, verify, write_config

USER = "leaky-user"
PASSWORD = "Pw-9d41c7e2-leak-canary"  # distinctive: its forms are searched in every output


def forms(secret: str) -> list[str]:
    """The secret as it could appear: raw, JSON-escaped, base64 alone and in a Basic header."""
    pairs = [base64.b64encode(f"{user}:{secret}".encode()).decode() for user in (USER, "alice")]
    return [secret, json.dumps(secret)[1:-1], base64.b64encode(secret.encode()).decode(), *pairs]


def assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        for form in forms(secret):
            assert form not in text, f"secret form {form[:6]}... leaked"


@pytest.fixture
def leak_config(tmp_path, basic_registry, token_registry, pki, other_pki):
    """Right credentials and wrong ones (each a distinctive secret) on both flows, and a TLS failure."""
    ca = {"connection": "secure-with-ca", "caCertificate": pki.ca_pem}
    entries = [
        registry_entry("basic-right", basic_registry.host, user="alice", password=USERS["alice"], repos=["team/charts/demo"], **ca),
        registry_entry("basic-wrong", basic_registry.host, user=USER, password=PASSWORD, **ca),
        registry_entry("token-right", token_registry.host, user="alice", password=USERS["alice"], repos=["team/charts/demo"], **ca),
        registry_entry("token-wrong", token_registry.host, user=USER, password=PASSWORD + "-wrong2", repos=["team/charts/demo"], **ca),
        registry_entry("tls-wrong", basic_registry.host, user=USER, password=PASSWORD + "-wrong3", connection="secure-with-ca", caCertificate=other_pki.ca_pem),
    ]
    return write_config(tmp_path, entries)


SECRETS = [USERS["alice"], PASSWORD, PASSWORD + "-wrong2", PASSWORD + "-wrong3"]


@pytest.mark.parametrize("fmt", ["text", "json", "github"])
def test_no_secret_in_verbose_output(leak_config, issuer, fmt):
    before = len(issuer.tokens)
    run = verify(leak_config, "--format", fmt, verbose=True)
    assert run.code == 1, run
    if fmt != "github":
        assert "GET https://" in run.stdout  # the -v trace is there, and clean
    text = run.stdout + run.stderr
    assert_clean(text, SECRETS)
    assert len(issuer.tokens) > before  # token-right got tokens: none of them may show
    assert all(token not in text for token in issuer.tokens)


def test_no_secret_when_login_succeeds_at_verbose(tmp_path, token_registry, issuer, pki):
    before = len(issuer.tokens)
    cfg = write_config(tmp_path, [registry_entry("ok", token_registry.host, user="alice", password=USERS["alice"], repos=["team/charts/demo"], connection="secure-with-ca", caCertificate=pki.ca_pem)])
    run = verify(cfg, "--format", "json", verbose=True)
    assert run.code == 0, run
    assert len(issuer.tokens) > before
    text = run.stdout + run.stderr
    assert USERS["alice"] not in text and base64.b64encode(f"alice:{USERS['alice']}".encode()).decode() not in text
    assert all(t not in text for t in issuer.tokens[before:])


def test_crash_traceback_is_scrubbed(leak_config, monkeypatch):
    """An internal error quoting a credential: exit 3, the -v traceback masks it."""

    def explode(self, repository):
        raise RuntimeError(f"boom {self.credentials[1]} {base64.b64encode(f'{self.credentials[0]}:{self.credentials[1]}'.encode()).decode()}")

    monkeypatch.setattr("compiler.oci_handshake.Handshake.pull", explode)
    run = verify(leak_config, "--registry", "basic-right", verbose=True)
    assert run.code == 3, run
    assert "Traceback" in run.stderr and "[redacted]" in run.stderr
    text = run.stdout + run.stderr
    assert USERS["alice"] not in text and base64.b64encode(f"alice:{USERS['alice']}".encode()).decode() not in text
    quiet = verify(leak_config, "--registry", "basic-right")
    assert quiet.code == 3 and "Traceback" not in quiet.stderr and USERS["alice"] not in quiet.stdout + quiet.stderr


def test_no_secret_from_a_real_process(leak_config):
    """The installed command, as CI runs it: stdout and stderr of the process itself."""
    env = dict(os.environ, SOPS_AGE_KEY_FILE=str(CONFIG_KEY), SOPS_DISABLE_VERSION_CHECK="1", NO_PROXY="127.0.0.1")
    proc = subprocess.run(
        [sys.executable, "-m", "compiler", "-v", "verify", "--config", str(leak_config), "--format", "text"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "basic-wrong" in proc.stdout and "unauthorized" in proc.stdout
    assert "basic-right" in proc.stdout and "login accepted" in proc.stdout
    assert_clean(proc.stdout + proc.stderr, SECRETS)
