"""Run the gateway: ``strikeflow gateway`` (uvicorn), and a managed child process for the
main job and the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

from infra.metrics import serve
from infra.settings import Settings

__all__ = ["GatewayProcess", "run"]


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; metrics on a loopback port registered with Prometheus."""
    from gateway.app import create_app
    from infra.logs import logging_config

    g = settings.gateway
    serve(settings.data_dir, f"gateway-{os.getpid()}")
    # uvicorn re-raises the SIGTERM/SIGINT it caught once it has shut down; with the default
    # action the process would die before atexit removes its Prometheus target (which then
    # reads as a process down). Exit normally instead.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(0))
    uvicorn.run(create_app(settings), host=g.host, port=g.port,
                log_config=logging_config(settings.log.level, settings.log.format),
                ssl_certfile=str(g.tls_cert) if g.tls_cert else None,
                ssl_keyfile=str(g.tls_key) if g.tls_key else None,
                ws_max_size=64 * 1024, proxy_headers=False, access_log=False)


class GatewayProcess:
    """``strikeflow gateway`` as a child process, logging to ``<data_dir>/logs/gateway.log``
    (``gateway-<port>.log`` on another port). ``env`` adds settings for the child only."""

    def __init__(self, settings: Settings, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        port = port or settings.gateway.port
        self.settings = settings.model_copy(update={
            "gateway": settings.gateway.model_copy(update={"port": port})})
        self.env = {**os.environ, **(env or {}), "STRIKEFLOW_GATEWAY__PORT": str(port)}
        g = self.settings.gateway
        if g.tls_cert and g.tls_key:  # settings given in code reach the child too
            self.env |= {"STRIKEFLOW_GATEWAY__TLS_CERT": str(g.tls_cert),
                         "STRIKEFLOW_GATEWAY__TLS_KEY": str(g.tls_key)}
        name = "gateway" if port == settings.gateway.port else f"gateway-{port}"
        self.log = settings.data_dir / "logs" / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.settings.gateway.url

    def start(self, timeout_s: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).with_name("strikeflow")
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([str(exe), "gateway"], stdout=out, env=self.env,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        url = f"{self.settings.gateway.url}/healthz"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited ({self.proc.returncode}); see {self.log}")
            try:
                body = httpx.get(url, timeout=2, verify=False).json()
                if body.get("kafka_caught_up"):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"the gateway did not come up in {timeout_s}s; see {self.log}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
