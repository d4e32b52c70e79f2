"""Provider modules: URL forms, ECR host parsing, credentials as dockerconfigjson sees them."""

from __future__ import annotations

import json

import pytest

from compiler import providers
from compiler.providers import ecr, gcp
from compiler.rules.urls import problem_with


@pytest.mark.parametrize(
    "host,account,region,partition",
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012", "eu-west-1", "aws"),
        ("123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", "123456789012", "us-gov-west-1", "aws-us-gov"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "123456789012", "cn-north-1", "aws-cn"),
        ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "123456789012", "us-east-1", "aws"),
    ],
)
def test_ecr_host_parsing(host, account, region, partition):
    parsed = ecr.parse_host(host)
    assert (parsed.account, parsed.region, parsed.partition) == (account, region, partition)


@pytest.mark.parametrize(
    "host",
    [
        "12345678901.dkr.ecr.eu-west-1.amazonaws.com",  # 11 digits
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com",  # China region needs .com.cn
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com.cn",  # .com.cn only for cn-*
        "123456789012.ecr.eu-west-1.amazonaws.com",
        "public.ecr.aws",
    ],
)
def test_ecr_rejects_other_hosts(host):
    assert ecr.parse_host(host) is None
    assert problem_with(host, providers.get("ecr"))


@pytest.mark.parametrize(
    "provider,url,ok",
    [
        ("docker", "docker.io", True),
        ("docker", "ghcr.io", False),
        ("azure", "acmeprod.azurecr.io", True),
        ("azure", "acme.azurecr.io", False),  # names are 5-50 characters
        ("artifact-registry", "europe-west1-docker.pkg.dev", True),
        ("artifact-registry", "gcr.io", False),
        ("gcr", "eu.gcr.io", True),
        ("gcr", "europe.gcr.io", False),
        ("quay", "quay.example.com:8443", True),
        ("other", "harbor.local:8443", True),
        ("other", "[::1]:5000", True),
        ("other", "harbor.local:99999", False),
        ("other", "bad_host", False),
    ],
)
def test_url_forms(provider, url, ok):
    assert (problem_with(url, providers.get(provider)) is None) is ok


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://quay.io", "write 'quay.io', not 'https://quay.io'"),
        ("oci://harbor.local:8443/charts", "write 'harbor.local:8443', not 'oci://harbor.local:8443/charts'; put repository paths in chartRepositories"),
        ("harbor.local/library", "put repository paths ('library') in chartRepositories"),
    ],
)
def test_url_messages_carry_the_correction(url, expected):
    assert expected in problem_with(url, providers.get("other"))


def test_docker_hub_server_keys():
    hub = providers.get("docker")
    assert hub.docker_server("docker.io") == "https://index.docker.io/v1/"
    assert hub.oci_host("docker.io") == "registry-1.docker.io"
    assert providers.get("other").oci_host("harbor.local:8443") == "harbor.local:8443"


KEY = {"type": "service_account", "project_id": "p", "private_key": "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n", "client_email": "x@p.iam.gserviceaccount.com"}


@pytest.mark.parametrize("indent", [None, 2, "\t"])
def test_gcp_keys_with_any_whitespace_become_compact(indent):
    text = json.dumps(KEY, indent=indent).replace("\n", "\r\n") + "\n\n"
    user, password = providers.get("gcr").credentials({"serviceAccountKey": text})
    assert user == "_json_key"
    assert password == json.dumps(KEY, separators=(",", ":"))
    assert json.loads(password) == KEY


@pytest.mark.parametrize(
    "text,fragment",
    [("not json", "not JSON"), ("[1]", "JSON object"), ('{"type":"service_account"}', "lacks"), (json.dumps({**KEY, "type": "user"}), "service_account")],
)
def test_gcp_key_errors_never_quote_the_key(text, fragment):
    with pytest.raises(gcp.KeyError_) as info:
        gcp.compact_key(text)
    assert fragment in str(info.value)
    assert "abc" not in str(info.value)
