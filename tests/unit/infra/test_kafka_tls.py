"""Kafka TLS as an option: the certificates infra makes, and what each client is told.

TLS off (the default) must leave every client and the broker exactly as they were.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest

from infra.kafka_security import Role
from infra.kafka_tls import (
    BROKER_CERT,
    BROKER_KEY,
    CA_FILE,
    CERT_FILES,
    KEYSTORE_FILE,
    ensure_certificates,
)
from infra.services import _prepare_connect, render_kafka_conf
from infra.settings import Settings


def _openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], capture_output=True, text=True,
                          check=True).stdout


def _conf(settings: Settings) -> dict[str, str]:
    return dict(line.split("=", 1) for line in render_kafka_conf(
        settings, settings.kafka.nodes[0]).splitlines() if line and not line.startswith("#"))


def test_the_broker_certificate_names_loopback_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    assert ensure_certificates(tmp_path) == list(CERT_FILES)
    san = _openssl("x509", "-in", str(tmp_path / BROKER_CERT), "-noout", "-ext",
                   "subjectAltName")
    assert "IP Address:127.0.0.1" in san and "DNS:localhost" in san
    assert _openssl("verify", "-CAfile", str(tmp_path / CA_FILE),
                    str(tmp_path / BROKER_CERT)).strip().endswith("OK")
    keystore = (tmp_path / KEYSTORE_FILE).read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----")  # unencrypted PKCS#8
    assert keystore.count("BEGIN CERTIFICATE") == 2  # broker, then the CA
    assert (tmp_path / BROKER_KEY).stat().st_mode & 0o077 == 0


def test_certificates_present_are_not_made_again(tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in CERT_FILES}
    assert ensure_certificates(tmp_path) == []
    assert {name: (tmp_path / name).read_bytes() for name in CERT_FILES} == before


def test_a_missing_broker_key_is_made_again_under_the_same_ca(tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    ca = (tmp_path / CA_FILE).read_bytes()
    (tmp_path / BROKER_KEY).unlink()
    assert ensure_certificates(tmp_path) == [BROKER_CERT, BROKER_KEY, KEYSTORE_FILE]
    assert (tmp_path / CA_FILE).read_bytes() == ca


def test_a_new_ca_brings_a_new_broker_certificate(tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    old = (tmp_path / BROKER_CERT).read_bytes()
    (tmp_path / CA_FILE).unlink()
    assert ensure_certificates(tmp_path) == list(CERT_FILES)
    assert (tmp_path / BROKER_CERT).read_bytes() != old
    assert _openssl("verify", "-CAfile", str(tmp_path / CA_FILE),
                    str(tmp_path / BROKER_CERT)).strip().endswith("OK")


def test_the_client_context_verifies_the_broker_by_name(tmp_path: Path) -> None:
    """A TLS handshake in memory: the settings' context accepts the broker's certificate
    for 127.0.0.1 and refuses it for another name."""
    settings = Settings.model_validate({"data_dir": tmp_path,
                                        "kafka": {"security": {"tls": True}}})
    sec = settings.kafka.security
    ensure_certificates(sec.tls_dir or tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(str(sec.keystore_file))

    def handshake(name: str) -> None:
        client_ctx = sec.ssl_context()
        assert client_ctx is not None
        c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
        client = client_ctx.wrap_bio(c_in, c_out, server_hostname=name)
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
        pending = {client, server}
        for _ in range(10):
            for side in list(pending):
                try:
                    side.do_handshake()
                    pending.discard(side)
                except ssl.SSLWantReadError:
                    pass
                s_in.write(c_out.read())
                c_in.write(s_out.read())
            if not pending:
                break
        assert client.getpeercert()

    handshake("127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake("127.0.0.2")


def test_tls_off_changes_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    sec = settings.kafka.security
    assert (sec.tls, sec.tls_dir, sec.protocol, sec.ssl_context()) == (
        False, None, "SASL_PLAINTEXT", None)
    assert not any(k.startswith("ssl") for k in settings.kafka.client_config(Role.WORKER))
    assert "ssl_context" not in sec.aiokafka(Role.WORKER)
    assert not any("ssl." in line for line in sec.java_properties(Role.ADMIN))
    assert not any(k.startswith("ssl.") for k in _conf(settings))


def test_tls_on_tells_every_client_to_verify_the_ca(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path,
                                        "kafka": {"security": {"tls": True}}})
    sec = settings.kafka.security
    ca = str(tmp_path / "tls" / CA_FILE)
    assert sec.tls_dir == tmp_path / "tls"
    client = settings.kafka.client_config(Role.WORKER)
    assert (client["security.protocol"], client["ssl.ca.location"]) == ("SASL_SSL", ca)
    assert f"ssl.truststore.location={ca}" in sec.java_properties(Role.ADMIN)
    conf = _conf(settings)
    assert conf["listeners"].startswith("SASL_SSL://")
    assert conf["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL"
    assert conf["inter.broker.listener.name"] == "SASL_SSL"
    assert (conf["ssl.keystore.type"], conf["ssl.keystore.location"]) == (
        "PEM", str(tmp_path / "tls" / KEYSTORE_FILE))
    assert conf["ssl.truststore.location"] == ca
    assert "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config" in conf


def test_connect_and_its_clients_trust_the_ca(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path,
                                        "kafka": {"security": {"tls": True}}})
    (tmp_path / "conf").mkdir()
    _prepare_connect(settings)
    text = (tmp_path / "conf" / "connect-distributed.properties").read_text()
    for prefix in ("", "producer.", "consumer.", "admin."):
        assert f"\n{prefix}security.protocol=SASL_SSL\n" in text, prefix
        assert f"\n{prefix}ssl.truststore.location={tmp_path / 'tls' / CA_FILE}\n" in text


def test_tls_needs_sasl() -> None:
    with pytest.raises(ValueError, match=r"needs security\.enabled"):
        Settings.model_validate({"kafka": {"security": {"tls": True, "enabled": False}}})
