"""The certificates of Kafka's TLS listener (``STRIKEFLOW_KAFKA__SECURITY__TLS=true``).

``infra up`` makes them with ``openssl`` when they are missing, under ``<data_dir>/tls/``:

* ``ca.pem`` / ``ca.key`` — a private CA of this data dir; every client trusts ``ca.pem``
  and nothing else (librdkafka ``ssl.ca.location``, Java ``ssl.truststore.type=PEM``, an
  ``ssl.SSLContext`` for aiokafka/Faust);
* ``broker.pem`` / ``broker.key`` — the one certificate every node of the (loopback) cluster
  presents, signed by the CA, with the listener's hosts as subject alternative names
  (``IP:127.0.0.1``, ``DNS:localhost``) so clients verify the host name as well;
* ``broker-keystore.pem`` — key, certificate and CA in one file: Kafka's PEM keystore
  (``ssl.keystore.type=PEM``), which needs no keytool and no store password.

Existing files are kept: a certificate is made again only when it or what it depends on
is missing (a new CA means a new broker certificate). The keys are unencrypted and readable
by their owner only: the data dir is a developer's machine, not a deployment, which brings
its own certificates to the same file names.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["CA_FILE", "CERT_FILES", "KEYSTORE_FILE", "TlsError", "ensure_certificates",
           "make_ca"]

CA_FILE = "ca.pem"
CA_KEY = "ca.key"
BROKER_CERT = "broker.pem"
BROKER_KEY = "broker.key"
KEYSTORE_FILE = "broker-keystore.pem"
CERT_FILES = (CA_FILE, CA_KEY, BROKER_CERT, BROKER_KEY, KEYSTORE_FILE)

CA_DAYS = 3650
BROKER_DAYS = 825  # the longest a TLS server certificate is commonly accepted for
DEFAULT_HOSTS = ("127.0.0.1", "localhost")

# Several brokers of one cluster are prepared in parallel: one makes the files, the others
# find them made.
_lock = threading.Lock()


class TlsError(RuntimeError):
    """openssl failed: its message says why."""


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise TlsError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _private(path: Path) -> None:
    path.chmod(0o600)


def make_ca(tls_dir: Path, name: str = "StrikeFlow local CA") -> Path:
    """A new self-signed CA in ``tls_dir`` (``ca.pem``, ``ca.key``); the certificate's path."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", CA_KEY,
             "-out", CA_FILE, "-days", str(CA_DAYS), "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=tls_dir)
    _private(tls_dir / CA_KEY)
    return tls_dir / CA_FILE


def _san(hosts: Iterable[str]) -> str:
    entries = []
    for host in dict.fromkeys(hosts):  # once each, in order
        try:
            ipaddress.ip_address(host)
            entries.append(f"IP:{host}")
        except ValueError:
            entries.append(f"DNS:{host}")
    return ",".join(entries)


def _make_broker(tls_dir: Path, hosts: Iterable[str]) -> None:
    ext = ("basicConstraints=critical,CA:FALSE\n"
           "keyUsage=critical,digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth,clientAuth\n"
           f"subjectAltName={_san(hosts)}\n")
    with tempfile.TemporaryDirectory(dir=tls_dir) as tmp:
        work = Path(tmp)
        (work / "broker.ext").write_text(ext)
        # openssl 3 writes an unencrypted PKCS#8 key ("BEGIN PRIVATE KEY"): what Kafka's PEM
        # keystore reads without ssl.key.password.
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key",
                 "-out", "broker.csr", "-subj", "/CN=strikeflow-kafka", cwd=work)
        _openssl("x509", "-req", "-in", "broker.csr", "-CA", str(tls_dir / CA_FILE),
                 "-CAkey", str(tls_dir / CA_KEY), "-set_serial",
                 str(int.from_bytes(os.urandom(8), "big")), "-days", str(BROKER_DAYS),
                 "-sha256", "-extfile", "broker.ext", "-out", "broker.pem", cwd=work)
        key, cert = (work / "broker.key").read_text(), (work / "broker.pem").read_text()
        for name, text in ((BROKER_KEY, key), (BROKER_CERT, cert),
                           (KEYSTORE_FILE, key + cert + (tls_dir / CA_FILE).read_text())):
            target = tls_dir / name
            target.touch(mode=0o600)
            _private(target)
            target.write_text(text)


def ensure_certificates(tls_dir: Path, hosts: Iterable[str] = DEFAULT_HOSTS) -> list[str]:
    """Make whatever is missing of the CA and the broker certificate; the names made
    (``[]``: everything was there and is left as it is)."""
    with _lock:
        tls_dir.mkdir(parents=True, exist_ok=True)
        tls_dir.chmod(0o700)
        made: list[str] = []
        if not all((tls_dir / f).exists() for f in (CA_FILE, CA_KEY)):
            make_ca(tls_dir)
            made += [CA_FILE, CA_KEY]
            for stale in (BROKER_CERT, BROKER_KEY, KEYSTORE_FILE):  # signed by the old CA
                (tls_dir / stale).unlink(missing_ok=True)
        if not all((tls_dir / f).exists() for f in (BROKER_CERT, BROKER_KEY, KEYSTORE_FILE)):
            _make_broker(tls_dir, hosts)
            made += [BROKER_CERT, BROKER_KEY, KEYSTORE_FILE]
        return made
