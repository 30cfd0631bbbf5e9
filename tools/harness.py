"""The whole system in a private directory, for end-to-end tests, benchmarks and chaos.

A ``Stack`` runs its own Kafka broker (or uses a given one), creates its topics and runs
the four services as real processes on free loopback ports, with SQLite files in its
directory. With ``database="postgres"`` the services' databases are instead databases of
one PostgreSQL (a given ``LocalPostgres``, or one the stack starts and stops), and with
``replicas=N`` extract, registry and notify run N processes each (``extract``,
``extract-2``, …), every replica of a service in its consumer group and on its database,
as a deployment scales them. Services can be SIGKILLed and restarted on the same ports,
the broker stopped and started again. A ``WebhookReceiver`` plays a bureau's endpoint and
checks signatures; an ``OtlpCollector`` plays a tracing back-end (OTLP/HTTP) and keeps the
spans it is sent.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tools.localkafka import LocalKafka, free_port
from tools.localpg import LocalPostgres
from tools.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
SERVICE_NAMES = ("ingest", "extract", "registry", "notify")
CRAWLER_TOKEN = "harness-crawler-token-0123456789"
OPERATOR_TOKEN = "harness-operator-token-0123456789"
#: The services that run ``replicas`` processes each (ingest stays one: crawlers push to
#: one address).
SCALED = ("extract", "registry", "notify")
#: The services with a database (extract has none).
WITH_DATABASE = ("ingest", "registry", "notify")


def replica_name(service: str, index: int) -> str:
    """``extract`` for the first replica, ``extract-2`` for the second, and so on."""
    return service if index == 1 else f"{service}-{index}"


@dataclass
class ServiceProcess:
    name: str
    port: int
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    #: The service this process runs (``services.<service>``); its name by default, and
    #: ``extract`` for a replica named ``extract-2``.
    service: str = ""

    def __post_init__(self) -> None:
        self.service = self.service or self.name

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.service}"],
            cwd=cwd,  # away from the checkout's .env
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, no offset commit, no flush."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def log_tail(self, size: int = 3000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-size:]


@dataclass
class Stack:
    workdir: Path
    kafka: LocalKafka | None = None
    partitions: int = 3
    topic_prefix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    owns_broker: bool = False
    #: Processes of each of extract, registry and notify; more than one needs PostgreSQL.
    replicas: int = 1
    #: Where ingest, registry and notify keep their data: SQLite files in ``workdir``, or
    #: databases of one PostgreSQL (``postgres``, or a server of the stack's own).
    database: Literal["sqlite", "postgres"] = "sqlite"
    postgres: LocalPostgres | None = None
    owns_postgres: bool = False
    #: The databases this stack made on ``postgres``, by service, dropped by ``stop()``.
    databases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError("replicas must be at least 1")
        if self.postgres is not None:
            self.database = "postgres"
        if self.replicas > 1 and self.database != "postgres":
            raise ValueError(
                "replicas of registry and notify share one database: use database='postgres' "
                "(SQLite is one process's file)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.kafka is None:
            self.kafka = LocalKafka(self.workdir / "kafka")
            self.owns_broker = True
        if self.database == "postgres" and self.postgres is None:
            # Not under workdir: when we are root the server runs as the `postgres` user,
            # which must reach its directory (pytest's and TemporaryDirectory's are private).
            self.postgres = LocalPostgres(Path(tempfile.mkdtemp(prefix="aw-stack-pg-")))
            self.owns_postgres = True
        base = {k: v for k, v in os.environ.items() if not k.endswith(("_PORT", "_DATABASE_URL"))}
        env = {
            **base,
            "PYTHONPATH": str(ROOT),
            "APP_ENV": "test",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "TOPIC_PREFIX": self.topic_prefix,
            "INGEST_API_TOKENS": CRAWLER_TOKEN,
            "NOTIFY_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "NOTIFY_SECRETS_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "NOTIFY_UNSUBSCRIBE_SECRET": base64.urlsafe_b64encode(os.urandom(24)).decode(),
            "REGISTRY_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "NOTIFY_ALLOWED_NETWORKS": "127.0.0.1/32",
            **{
                f"{name.upper()}_DATABASE_URL": f"sqlite:///{self.workdir}/{name}.db"
                for name in WITH_DATABASE
            },
            "EXTRACT_GROUP_ID": f"{self.topic_prefix}extract",
            "REGISTRY_GROUP_ID": f"{self.topic_prefix}registry",
            "NOTIFY_GROUP_ID": f"{self.topic_prefix}notify",
        }
        if self.database == "postgres":
            # The URLs are known before the server runs (its port is fixed); the databases
            # are made by start().
            assert self.postgres is not None
            token = uuid.uuid4().hex[:10]
            for name in WITH_DATABASE:
                self.databases[name] = f"aw_{name}_{token}"
                env[f"{name.upper()}_DATABASE_URL"] = self.postgres.database_url(
                    self.databases[name]
                )
        ports = {name: free_port() for name in self._process_names()}
        if self.replicas > 1:
            # Alerts link to the dashboard at one address, whichever replica relays them.
            env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['registry']}"
        env.update(self.extra_env)
        for name, port in ports.items():
            service = name.split("-")[0]
            self.services[name] = ServiceProcess(
                name,
                port,
                self.workdir / f"{name}.log",
                {**env, f"{service.upper()}_PORT": str(port)},
                service=service,
            )

    def _process_names(self) -> list[str]:
        return [
            replica_name(service, index)
            for service in SERVICE_NAMES
            for index in range(1, (self.replicas if service in SCALED else 1) + 1)
        ]

    def replicas_of(self, service: str) -> list[ServiceProcess]:
        """The processes of one service (its replicas), first to last."""
        return [p for p in self.services.values() if p.service == service]

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    @property
    def env(self) -> dict[str, str]:
        return self.services["ingest"].env

    def start(self) -> None:
        assert self.kafka is not None
        if self.owns_postgres:
            assert self.postgres is not None
            self.postgres.start()
        if self.postgres is not None:
            for database in self.databases.values():
                self.postgres.create_database(database)
        if self.owns_broker:
            self.kafka.start()
        asyncio.run(
            ensure_topics(
                self.kafka.bootstrap_servers, partitions=self.partitions, prefix=self.topic_prefix
            )
        )
        for service in self.services.values():
            service.start(self.workdir)
        for service in self.services.values():
            service.wait_ready()

    def restart(self, name: str, *, kill: bool = True) -> None:
        service = self.services[name]
        if kill:
            service.kill()
        else:
            service.stop()
        service.start(self.workdir)
        service.wait_ready()

    def restart_broker(self, outage_seconds: float = 0.0) -> None:
        """Stop the broker, leave it down for ``outage_seconds``, start it again."""
        assert self.kafka is not None
        self.kafka.stop()
        time.sleep(outage_seconds)
        self.kafka.start()

    def stop(self) -> dict[str, int | None]:
        codes = {name: service.stop() for name, service in self.services.items()}
        if self.owns_broker and self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            if self.owns_postgres:
                self.postgres.stop()
                shutil.rmtree(self.postgres.workdir, ignore_errors=True)
            else:
                for database in self.databases.values():
                    self.postgres.drop_database(database)
        return codes

    # --- the APIs, as a crawler, an operator and a bureau use them ---------------------

    def push(self, article: dict[str, Any], timeout: float = 30) -> httpx.Response:
        return httpx.post(
            self["ingest"].url + "/v1/articles",
            json=article,
            headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"},
            timeout=timeout,
        )

    def create_bureau(self, name: str) -> str:
        answer = httpx.post(
            self["notify"].url + "/v1/bureaus",
            json={"name": name},
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=10,
        )
        answer.raise_for_status()
        return str(answer.json()["api_key"])

    def subscribe(
        self, api_key: str, name: str, url: str, filters: dict[str, Any]
    ) -> dict[str, Any]:
        answer = httpx.post(
            self["notify"].url + "/v1/subscriptions",
            json={"name": name, "channel": "webhook", "url": url, "filters": filters},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def alliances(self) -> list[dict[str, Any]]:
        """Every alliance in the registry, following the cursor."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            page = httpx.get(self["registry"].url + "/v1/alliances", params=params, timeout=30)
            page.raise_for_status()
            body = page.json()
            items.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return items


@dataclass(frozen=True)
class ReceivedWebhook:
    path: str
    webhook_id: str
    timestamp: str
    received_at: float
    valid_signature: bool
    payload: dict[str, Any]
    #: The W3C trace context the delivery attempt sent ("" when tracing is off).
    traceparent: str = ""


class _Server(ThreadingHTTPServer):
    # http.server's backlog of 5 drops connections when notify opens its 16 at once.
    request_queue_size = 128
    daemon_threads = True


class WebhookReceiver:
    """A bureau's webhook endpoint on 127.0.0.1 that records what arrives.

    Secrets are registered per path once the subscription exists; a delivery is valid when
    its Standard Webhooks signature verifies with that secret. ``down`` makes it answer 503.
    """

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.received: list[ReceivedWebhook] = []
        self.down = False
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as a bureau's web server would: notify reuses its connections.
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.down:
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                receiver.record(self.path, dict(self.headers.items()), body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        webhook_id = lowered.get("webhook-id", "")
        timestamp = lowered.get("webhook-timestamp", "")
        signature = lowered.get("webhook-signature", "")
        secret = self.secrets.get(path.lstrip("/"))
        valid = secret is not None and verify_signature(
            secret, webhook_id, timestamp, body, signature
        )
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            payload = {}
        with self._lock:
            self.received.append(
                ReceivedWebhook(
                    path.lstrip("/"),
                    webhook_id,
                    timestamp,
                    time.time(),
                    valid,
                    payload,
                    lowered.get("traceparent", ""),
                )
            )

    def snapshot(self) -> list[ReceivedWebhook]:
        with self._lock:
            return list(self.received)


def verify_signature(secret: str, msg_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """Standard Webhooks: HMAC-SHA256 of ``id.timestamp.body`` with the decoded secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        part.startswith("v1,") and hmac.compare_digest(part[3:], expected)
        for part in header.split()
    )


@dataclass(frozen=True)
class CollectedSpan:
    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


class OtlpCollector:
    """An OTLP/HTTP trace receiver on 127.0.0.1 (``POST /v1/traces``, protobuf): point
    services at ``url`` with ``OTEL_EXPORTER_OTLP_ENDPOINT`` and read ``spans()``."""

    def __init__(self) -> None:
        self._spans: list[CollectedSpan] = []
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding", "") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                collector.take(body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpCollector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans: list[CollectedSpan] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        CollectedSpan(
                            service=service,
                            name=span.name,
                            kind=Span.SpanKind.Name(span.kind),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes={a.key: _any_value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self._spans.extend(spans)

    def spans(self, trace_id: str | None = None) -> list[CollectedSpan]:
        with self._lock:
            return [s for s in self._spans if trace_id is None or s.trace_id == trace_id]


def _any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None
