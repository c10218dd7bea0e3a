"""Gateways of their own (no worker needed), for settings the shared one does not have: TLS
with a certificate from the stack's own CA (``infra.kafka_tls`` makes both), verified by the
client, plain HTTP not answered; a small per-IP budget that refused credentials use up."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from gateway.server import GatewayProcess
from infra.kafka_tls import BROKER_CERT, BROKER_KEY, CA_FILE, ensure_certificates
from infra.settings import Settings

from .conftest import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.redis]


def test_the_gateway_serves_https_with_a_verified_certificate(stack: Settings,
                                                              tmp_path: Path) -> None:
    ensure_certificates(tmp_path)
    tls = stack.model_copy(update={"gateway": stack.gateway.model_copy(update={
        "tls_cert": tmp_path / BROKER_CERT, "tls_key": tmp_path / BROKER_KEY})})
    gw = GatewayProcess(tls, free_port())
    assert gw.url.startswith("https://")
    gw.start()
    try:
        trusted = ssl.create_default_context(cafile=str(tmp_path / CA_FILE))
        ok = httpx.get(f"{gw.url}/api/v1/market/instruments", verify=trusted, timeout=10)
        assert ok.status_code == 200 and ok.json()
        with pytest.raises(httpx.ConnectError):  # the system CAs do not know ours
            httpx.get(f"{gw.url}/healthz", timeout=10)
        with pytest.raises(httpx.HTTPError):
            httpx.get(gw.url.replace("https", "http") + "/healthz", timeout=5)
    finally:
        gw.stop()


def test_refused_credentials_cost_the_ip_tokens(stack: Settings) -> None:
    """Guessing tokens or keys from one address is throttled like any other request."""
    gw = GatewayProcess(stack, free_port(), env={
        "STRIKEFLOW_GATEWAY__IP_LIMIT": '{"per_second": 0.5, "burst": 5}'})
    gw.start()
    try:
        codes = [httpx.get(f"{gw.url}/api/v1/me", headers={"Authorization": f"Bearer x{n}"},
                           timeout=10).status_code for n in range(8)]
    finally:
        gw.stop()
    assert codes[:5] == [401] * 5 and 429 in codes[5:], codes
