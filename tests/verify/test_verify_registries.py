"""`regops verify` against real docker-registry servers (distribution 2.8) on 127.0.0.1.

Basic auth (htpasswd) and Bearer auth (token issuer) over TLS from a test CA,
and Basic on plain HTTP for `connection: insecure`. Each case: the statuses a
person acts on, and for the safety rules, what the servers actually received.
"""

from __future__ import annotations

import pytest
from verifykit import USERS
from verifykit import (
    Recorder,
    Registry,
    SlowProxy,
    registry_entry,
    verify,
    write_config,
)

ALICE = ("alice", USERS["alice"])


def with_ca(pki) -> dict:
    return {"connection": "secure-with-ca", "caCertificate": pki.ca_pem}


# ---------------------------------------------------------------------------- Basic (htpasswd) over TLS


def test_basic_right_credentials(tmp_path, basic_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user=ALICE[0], password=ALICE[1], repos=["team/charts/demo", "team/charts"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 0, run
    reg = run.registry("harbor")
    assert reg["status"] == "ok" and "login accepted (Basic)" in reg["detail"]
    demo, prefix = reg["repositories"]
    assert (demo["repository"], demo["status"], demo["detail"]) == ("team/charts/demo", "ok", "pull allowed")
    # nothing is stored at the prefix itself: access granted, no failure (charts live under it)
    assert prefix["status"] == "ok" and "NAME_UNKNOWN" in prefix["detail"]
    assert run.json["ok"] is True and run.json["counts"]["ok"] == 1


def test_basic_wrong_password(tmp_path, basic_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user="alice", password="not-alices-password", repos=["team/charts/demo"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    reg = run.registry("harbor")
    assert reg["status"] == "unauthorized" and "login refused" in reg["detail"]
    assert reg["repositories"][0]["status"] == "skipped"  # not checked without a login


def test_basic_unknown_user(tmp_path, basic_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user="mallory", password=USERS["alice"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1 and run.registry("harbor")["status"] == "unauthorized", run


# ---------------------------------------------------------------------------- TLS


def test_wrong_ca(tmp_path, basic_registry, other_pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user=ALICE[0], password=ALICE[1], **with_ca(other_pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    reg = run.registry("harbor")
    assert reg["status"] == "tls-error"
    assert "certificate not trusted" in reg["detail"] and "unable to get local issuer certificate" in reg["detail"]


def test_secure_without_ca_does_not_trust_a_private_ca(tmp_path, basic_registry):
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user=ALICE[0], password=ALICE[1])])  # connection: secure
    run = verify(cfg, "--format", "json")
    assert run.code == 1 and run.registry("harbor")["status"] == "tls-error", run


def test_system_trust_store_is_used_for_secure(tmp_path, basic_registry, pki, monkeypatch):
    """connection: secure trusts what the system trusts (SSL_CERT_FILE here), as a container runtime does."""
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user=ALICE[0], password=ALICE[1])])
    run = verify(cfg, "--format", "json")
    assert run.code == 0 and run.registry("harbor")["status"] == "ok", run


def test_plain_http_server_declared_secure_gets_no_credentials(tmp_path):
    recorder = Recorder()
    try:
        cfg = write_config(tmp_path, [registry_entry("nexus", f"127.0.0.1:{recorder.port}", user=ALICE[0], password=ALICE[1])])
        run = verify(cfg, "--format", "json")
    finally:
        recorder.close()
    assert run.code == 1, run
    reg = run.registry("nexus")
    assert reg["status"] == "tls-error" and "connection: insecure" in reg["detail"]
    assert all(r["authorization"] is None for r in recorder.requests)


# ---------------------------------------------------------------------------- insecure


def test_insecure_plain_http_registry(tmp_path, plain_registry):
    cfg = write_config(tmp_path, [registry_entry("nexus", plain_registry.host, user=ALICE[0], password=ALICE[1], connection="insecure")])
    run = verify(cfg, "--format", "json")
    assert run.code == 0, run
    reg = run.registry("nexus")
    assert reg["status"] == "ok" and "plain HTTP (connection: insecure)" in reg["notes"]


def test_insecure_plain_http_registry_wrong_password(tmp_path, plain_registry):
    cfg = write_config(tmp_path, [registry_entry("nexus", plain_registry.host, user=ALICE[0], password="wrong-password", connection="insecure")])
    run = verify(cfg, "--format", "json")
    assert run.code == 1 and run.registry("nexus")["status"] == "unauthorized", run


def test_insecure_tls_registry_skips_verification(tmp_path, basic_registry):
    cfg = write_config(tmp_path, [registry_entry("harbor", basic_registry.host, user=ALICE[0], password=ALICE[1], connection="insecure")])
    run = verify(cfg, "--format", "json")
    assert run.code == 0, run
    assert run.registry("harbor")["notes"] == []  # it stayed on TLS


# ---------------------------------------------------------------------------- Bearer (token issuer)


def test_bearer_right_credentials_and_pull_rights(tmp_path, token_registry, issuer, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", token_registry.host, user=ALICE[0], password=ALICE[1], repos=["team/charts/demo", "team/charts"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 0, run
    reg = run.registry("harbor")
    assert reg["status"] == "ok" and "login accepted (Bearer" in reg["detail"]
    assert [p["status"] for p in reg["repositories"]] == ["ok", "ok"]
    assert f"token realm on another host: 127.0.0.1:{issuer.port}" in reg["notes"]


def test_bearer_repository_without_pull_rights_is_forbidden(tmp_path, token_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", token_registry.host, user=ALICE[0], password=ALICE[1], repos=["team/charts/demo", "carol/charts"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    reg = run.registry("harbor")
    assert reg["status"] == "forbidden" and "1 of 2 chart repositories" in reg["detail"]
    demo, carol = reg["repositories"]
    assert demo["status"] == "ok"
    assert carol["status"] == "forbidden" and "login was accepted" in carol["detail"] and "insufficient_scope" in carol["detail"]


def test_bearer_other_user_has_the_rights_alice_lacks(tmp_path, token_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", token_registry.host, user="carol", password=USERS["carol"], repos=["carol/charts"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 0 and run.registry("harbor")["repositories"][0]["status"] == "ok", run


def test_bearer_wrong_password(tmp_path, token_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", token_registry.host, user="alice", password="wrong-password", repos=["team/charts/demo"], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    reg = run.registry("harbor")
    assert reg["status"] == "unauthorized" and "token realm" in reg["detail"]


def test_bearer_unknown_user(tmp_path, token_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", token_registry.host, user="mallory", password="whatever-pw", **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1 and run.registry("harbor")["status"] == "unauthorized", run


def test_public_registry_is_checked_anonymously(tmp_path, token_registry, issuer, pki):
    before = len(issuer.requests)
    entry = registry_entry("public-charts", token_registry.host, repos=["public/charts/demo", "team/charts/demo"], type="public", **with_ca(pki))
    cfg = write_config(tmp_path, [entry])
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    reg = run.registry("public-charts")
    public, private = reg["repositories"]
    assert public["status"] == "ok"
    assert private["status"] == "forbidden" and "anonymous access" in private["detail"]
    assert all(not r["credentials"] for r in issuer.requests[before:])


def test_public_registry_behind_basic_auth_is_unauthorized(tmp_path, basic_registry, pki):
    cfg = write_config(tmp_path, [registry_entry("oops", basic_registry.host, type="public", **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1 and run.registry("oops")["status"] == "unauthorized" and "declared public" in run.registry("oops")["detail"], run


def test_token_realm_over_plain_http_on_another_host_gets_no_credentials(tmp_path, plain_realm_registry, plain_issuer, pki):
    cfg = write_config(tmp_path, [registry_entry("harbor", plain_realm_registry.host, user=ALICE[0], password=ALICE[1], **with_ca(pki))])
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    reg = run.registry("harbor")
    assert reg["status"] == "tls-error" and "plain HTTP" in reg["detail"] and "not sent" in reg["detail"]
    assert plain_issuer.requests == []
    assert f"token realm on another host: 127.0.0.1:{plain_issuer.port}" in reg["notes"]


# ---------------------------------------------------------------------------- down and slow


def test_stopped_server(tmp_path, needs_registry, pki):
    reg = Registry(tmp_path / "reg", pki=pki, users=USERS)
    cfg = write_config(tmp_path / "cfg", [registry_entry("harbor", reg.host, user=ALICE[0], password=ALICE[1], **with_ca(pki))])
    try:
        assert verify(cfg, "--format", "json").registry("harbor")["status"] == "ok"
    finally:
        reg.stop()
    run = verify(cfg, "--format", "json")
    assert run.code == 1, run
    assert run.registry("harbor")["status"] == "unreachable" and "connection refused" in run.registry("harbor")["detail"]


def test_slow_server_hits_the_timeout(tmp_path, basic_registry, pki):
    proxy = SlowProxy(basic_registry.port, delay=1.5)
    try:
        cfg = write_config(tmp_path, [registry_entry("harbor", f"127.0.0.1:{proxy.port}", user=ALICE[0], password=ALICE[1], **with_ca(pki))])
        run = verify(cfg, "--format", "json", "--timeout", "0.4")
        patient = verify(cfg, "--format", "json", "--timeout", "20")
    finally:
        proxy.close()
    assert run.code == 1, run
    assert run.registry("harbor")["status"] == "unreachable" and "no answer within 0.4 s" in run.registry("harbor")["detail"]
    assert patient.code == 0 and patient.registry("harbor")["status"] == "ok", patient


# ---------------------------------------------------------------------------- many at once


def test_every_status_in_one_run_in_config_order(tmp_path, basic_registry, token_registry, pki, other_pki):
    free = Registry(tmp_path / "gone", pki=pki, users=USERS)
    free.stop()
    entries = [
        registry_entry("a-ok", basic_registry.host, user=ALICE[0], password=ALICE[1], **with_ca(pki)),
        registry_entry("b-unauthorized", basic_registry.host, user=ALICE[0], password="wrong-password", **with_ca(pki)),
        registry_entry("c-forbidden", token_registry.host, user=ALICE[0], password=ALICE[1], repos=["carol/charts"], **with_ca(pki)),
        registry_entry("d-tls", basic_registry.host, user=ALICE[0], password=ALICE[1], **with_ca(other_pki)),
        registry_entry("e-unreachable", free.host, user=ALICE[0], password=ALICE[1], **with_ca(pki)),
        {"name": "f-skipped", "provider": "ecr", "url": "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "auth": {"method": "iam-role"}},
    ]
    run = verify(write_config(tmp_path / "cfg", entries), "--format", "json")
    assert run.code == 1, run
    assert [(r["name"], r["status"]) for r in run.json["registries"]] == [
        ("a-ok", "ok"), ("b-unauthorized", "unauthorized"), ("c-forbidden", "forbidden"),
        ("d-tls", "tls-error"), ("e-unreachable", "unreachable"), ("f-skipped", "skipped"),
    ]
    assert run.json["counts"] == {"ok": 1, "unauthorized": 1, "forbidden": 1, "tls-error": 1, "unreachable": 1, "skipped": 1}
    only = verify(write_config(tmp_path / "cfg", entries), "--format", "json", "--registry", "a-*", "--registry", "f-skipped")
    assert only.code == 0 and [r["name"] for r in only.json["registries"]] == ["a-ok", "f-skipped"], only


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_human_formats_name_the_failure(tmp_path, token_registry, pki, fmt):
    cfg = write_config(tmp_path, [registry_entry("harbor", token_registry.host, user=ALICE[0], password=ALICE[1], repos=["team/charts/demo", "carol/charts"], **with_ca(pki))])
    run = verify(cfg, "--format", fmt)
    assert run.code == 1, run
    lines = run.stdout.splitlines()
    assert lines[-1] == "1 registry checked: 1 forbidden"
    if fmt == "text":
        assert lines[0].split()[:2] == ["harbor", "forbidden"]
        assert lines[2].split()[:2] == ["team/charts/demo", "ok"]
        assert lines[3].split()[:2] == ["carol/charts", "forbidden"]
    else:
        (annotation,) = [line for line in lines if line.startswith("::")]
        # on the line of the chart repository entry in registries.yaml
        text = (cfg / "registries.yaml").read_text().splitlines()
        line_no = int(annotation.split("line=")[1].split(",")[0])
        assert "carol/charts" in text[line_no - 1]
        assert annotation.startswith("::error file=") and "title=regops verify harbor carol/charts::forbidden: " in annotation
