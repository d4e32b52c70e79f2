"""The key-free checks of age recipients and PEM certificates."""

from __future__ import annotations

import datetime

import pyrage
import pytest

from compiler.age import check_recipient
from compiler.pem import check_certificates


def test_generated_recipients_are_accepted():
    for _ in range(20):
        assert check_recipient(str(pyrage.x25519.Identity.generate().to_public())) is None


def test_typo_is_caught_by_the_checksum():
    good = str(pyrage.x25519.Identity.generate().to_public())
    flipped = good[:-3] + ("q" if good[-3] != "q" else "p") + good[-2:]
    assert "checksum" in check_recipient(flipped)
    assert check_recipient(good[:-1]) is not None


def test_secret_key_is_named_as_such():
    secret = str(pyrage.x25519.Identity.generate())
    assert "SECRET key" in check_recipient(secret)


def test_other_strings():
    assert "age1" in check_recipient("ssh-ed25519 AAAA")
    assert check_recipient("age1ABCdef") == "mixes upper and lower case"


@pytest.fixture(scope="module")
def cert_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_certificates_are_counted(cert_pem):
    cert, _ = cert_pem
    assert check_certificates(cert) == (1, None)
    assert check_certificates(cert + "\n" + cert) == (2, None)
    assert check_certificates("subject=CN test\n" + cert) == (1, None)


def test_broken_certificates(cert_pem):
    cert, key = cert_pem
    lines = cert.splitlines()
    assert "not PEM" in check_certificates("hello")[1]
    assert "matching -----END" in check_certificates("\n".join(lines[:-1]))[1]
    assert "base64" in check_certificates("\n".join([lines[0], "!!!!", lines[-1]]))[1]
    truncated = "\n".join([lines[0]] + lines[1:3] + [lines[-1]])
    assert check_certificates(truncated)[1] is not None
    assert "PRIVATE KEY" in check_certificates(cert + key)[1]
