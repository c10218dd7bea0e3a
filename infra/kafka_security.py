"""Who talks to Kafka, and how: the principals of the platform and their credentials.

Kafka's client listener takes SASL/SCRAM only (``SCRAM-SHA-512`` by default); every client
of the platform gets its configuration from here, for the principal (role) it acts as:

* :meth:`KafkaSecurity.librdkafka` — the ``security.protocol``/``sasl.*`` keys of a
  confluent-kafka client (``KafkaSettings.client_config`` adds ``bootstrap.servers``);
* :meth:`KafkaSecurity.java_properties` — the same for a Java client or tool
  (``--command-config``, Connect's worker config);
* :meth:`KafkaSecurity.user` — name and password, for Faust's ``SASLCredentials``;
* :meth:`KafkaSecurity.ssl_context` — with TLS on, the context that trusts the stack's CA
  (Faust's ``SASLCredentials(ssl_context=…)``, aiokafka).

TLS is an option, off by default (``STRIKEFLOW_KAFKA__SECURITY__TLS=true``): the client
listener is then SASL_SSL, with the certificates ``infra up`` makes under
``<data_dir>/tls/`` (:mod:`infra.kafka_tls`), and every client verifies the broker against
that CA and the broker's host name.

What each principal may do is in :mod:`infra.kafka_acls`. Passwords are ``SecretStr`` with
defaults that suit a developer's machine; a deployment overrides them through the
environment, e.g. ``STRIKEFLOW_KAFKA__SECURITY__WORKER__PASSWORD=…``.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from infra.kafka_tls import CA_FILE, KEYSTORE_FILE

__all__ = ["KafkaSecurity", "KafkaUser", "Role"]


class Role(StrEnum):
    """The principals of the platform; :mod:`infra.kafka_acls` says what each may do."""

    BROKER = "broker"  # the brokers among themselves (super user)
    ADMIN = "admin"  # ops: infra, topics apply, the users and ACLs themselves (super user)
    WORKER = "worker"  # the Faust workers and the platform's own tools
    ORDER_PRODUCER = "order_producer"  # writes orders.requests, nothing else
    MARKETDATA_FEED = "marketdata_feed"  # writes the market-data input topics
    CLICKHOUSE_SINK = "clickhouse_sink"
    SEARCH_SINK = "search_sink"
    CONNECT = "connect"  # Kafka Connect with Debezium
    ANALYST = "analyst"  # reads the analytic topics
    GATEWAY = "gateway"  # the trading API: writes orders.requests, reads what traders see


class KafkaUser(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    password: SecretStr


def _dev(role: Role) -> KafkaUser:
    name = f"strikeflow-{role.value.replace('_', '-')}"
    return KafkaUser(name=name, password=SecretStr(f"{name}-dev"))


class KafkaSecurity(BaseModel):
    """SASL/SCRAM on the client listener, ACLs through KRaft's ``StandardAuthorizer``.

    ``enabled=False`` gives the PLAINTEXT listener without an authorizer; a stack formatted
    before security existed can only run that way (or be formatted again).
    ``dev_prefixes`` are the app ids, groups and topics of the test suite, the benchmarks and
    the fault drill: on a developer's machine the worker and sink principals may use them
    besides their own; a deployment sets them to ``[]``. ``tool_group_prefixes`` are the
    throw-away groups of the platform's own readers (offsets, ranges, probes), run as the
    worker.

    ``tls=True`` makes the client listener SASL_SSL (it needs ``enabled``); ``tls_dir`` holds
    the CA and the broker's certificate, ``<data_dir>/tls`` unless set (``Settings`` fills it
    in). The controller listener stays PLAINTEXT on loopback; the brokers talk to each other
    over the client listener, hence over TLS too when it is on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A data dir formatted without SCRAM credentials needs STRIKEFLOW_KAFKA__SECURITY__ENABLED=false
    # (or deleting its kafka* dirs): see infra/services.py.
    enabled: bool = True
    tls: bool = False
    tls_dir: Path | None = None
    mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    iterations: int = 4096  # the minimum SCRAM-SHA-512 allows; each login pays it once
    dev_prefixes: tuple[str, ...] = ("test-", "test.", "bench-", "bench.", "drill-")
    tool_group_prefixes: tuple[str, ...] = (
        "offsets-", "read-range-", "probe-", "expiry-", "demo-", "cdc-demo-")
    analyst_group_prefix: str = "analyst-"
    gateway_group_prefix: str = "strikeflow-gateway-"
    broker: KafkaUser = _dev(Role.BROKER)
    admin: KafkaUser = _dev(Role.ADMIN)
    worker: KafkaUser = _dev(Role.WORKER)
    order_producer: KafkaUser = _dev(Role.ORDER_PRODUCER)
    marketdata_feed: KafkaUser = _dev(Role.MARKETDATA_FEED)
    clickhouse_sink: KafkaUser = _dev(Role.CLICKHOUSE_SINK)
    search_sink: KafkaUser = _dev(Role.SEARCH_SINK)
    connect: KafkaUser = _dev(Role.CONNECT)
    analyst: KafkaUser = _dev(Role.ANALYST)
    gateway: KafkaUser = _dev(Role.GATEWAY)

    @model_validator(mode="after")
    def _tls_needs_sasl(self) -> KafkaSecurity:
        if self.tls and not self.enabled:
            raise ValueError("Kafka TLS (security.tls) needs security.enabled: the listener "
                             "is SASL_SSL")
        return self

    @property
    def protocol(self) -> str:
        """The client listener's security protocol (also its listener name)."""
        if not self.enabled:
            return "PLAINTEXT"
        return "SASL_SSL" if self.tls else "SASL_PLAINTEXT"

    def _tls_path(self, name: str) -> Path:
        if self.tls_dir is None:
            raise ValueError("Kafka TLS is on but security.tls_dir is unset (Settings sets "
                             "it to <data_dir>/tls)")
        return self.tls_dir / name

    @property
    def ca_file(self) -> Path:
        """The CA every client verifies the brokers against (TLS on)."""
        return self._tls_path(CA_FILE)

    @property
    def keystore_file(self) -> Path:
        """The brokers' PEM keystore: key, certificate, CA (TLS on)."""
        return self._tls_path(KEYSTORE_FILE)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context that trusts the stack's CA only and checks the host name;
        ``None`` with TLS off."""
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=str(self.ca_file))

    def user(self, role: Role | str) -> KafkaUser:
        user: KafkaUser = getattr(self, Role(role).value)
        return user

    def principal(self, role: Role | str) -> str:
        """``User:<name>``, as ACLs and ``super.users`` name it."""
        return f"User:{self.user(role).name}"

    def users(self) -> dict[Role, KafkaUser]:
        return {role: self.user(role) for role in Role}

    def librdkafka(self, role: Role | str) -> dict[str, str]:
        """The security keys of a confluent-kafka (librdkafka) client acting as ``role``."""
        if not self.enabled:
            return {}
        user = self.user(role)
        conf = {"security.protocol": self.protocol, "sasl.mechanism": self.mechanism,
                "sasl.username": user.name, "sasl.password": user.password.get_secret_value()}
        if self.tls:
            conf |= {"ssl.ca.location": str(self.ca_file),
                     "ssl.endpoint.identification.algorithm": "https"}
        return conf

    def aiokafka(self, role: Role | str) -> dict[str, Any]:
        """The same for an aiokafka client (what Faust builds from its ``SASLCredentials``)."""
        if not self.enabled:
            return {}
        user = self.user(role)
        conf: dict[str, Any] = {
            "security_protocol": self.protocol, "sasl_mechanism": self.mechanism,
            "sasl_plain_username": user.name,
            "sasl_plain_password": user.password.get_secret_value()}
        if self.tls:
            conf["ssl_context"] = self.ssl_context()
        return conf

    def jaas(self, role: Role | str) -> str:
        """``sasl.jaas.config`` of a Java client (or the broker) acting as ``role``."""
        user = self.user(role)
        password = user.password.get_secret_value().replace("\\", "\\\\").replace('"', '\\"')
        return ("org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{user.name}" password="{password}";')

    def java_properties(self, role: Role | str, prefix: str = "") -> list[str]:
        """``key=value`` lines of a Java client's security (``prefix``: ``producer.`` …)."""
        if not self.enabled:
            return []
        lines = [f"{prefix}security.protocol={self.protocol}",
                 f"{prefix}sasl.mechanism={self.mechanism}",
                 f"{prefix}sasl.jaas.config={self.jaas(role)}"]
        if self.tls:  # a PEM truststore: the CA file itself, no keytool, no password
            lines += [f"{prefix}ssl.truststore.type=PEM",
                      f"{prefix}ssl.truststore.location={self.ca_file}",
                      f"{prefix}ssl.endpoint.identification.algorithm=https"]
        return lines

    def format_args(self) -> list[str]:
        """``StorageTool format`` arguments that store the broker's and the admin's SCRAM
        credentials in the first metadata (KIP-900): the brokers must authenticate to each
        other before anyone could add a user, and the admin adds all the others."""
        if not self.enabled:
            return []
        args = []
        for role in (Role.BROKER, Role.ADMIN):
            user = self.user(role)
            args += ["--add-scram", f"{self.mechanism}=[name={user.name},"
                     f"iterations={self.iterations},"
                     f"password={user.password.get_secret_value()}]"]
        return args
