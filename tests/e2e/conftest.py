"""Runs the real service processes against the session's Kafka broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tools.localkafka import LocalKafka

ROOT = Path(__file__).resolve().parents[2]
CRAWLER_TOKEN = "e2e-crawler-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@dataclass
class Pipeline:
    services: dict[str, RunningService]
    env: dict[str, str]
    workdir: Path

    def __getitem__(self, name: str) -> RunningService:
        return self.services[name]


def start_service(name: str, env: dict[str, str], workdir: Path) -> RunningService:
    port = free_port()
    log = workdir / f"{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", f"services.{name}"],
        cwd=workdir,  # away from the checkout's .env
        env={**env, f"{name.upper()}_PORT": str(port), "PYTHONPATH": str(ROOT)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return RunningService(name, port, process, log)


def wait_ready(service: RunningService, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise AssertionError(f"{service.name} exited:\n{service.log.read_text()[-3000:]}")
        try:
            if httpx.get(service.url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{service.name} not ready:\n{service.log.read_text()[-3000:]}")


@pytest.fixture
def pipeline(kafka: LocalKafka, kafka_topics: str, tmp_path: Path) -> Iterator[Pipeline]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.endswith(("_PORT", "_DATABASE_URL"))},
        "APP_ENV": "test",
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOPIC_PREFIX": kafka_topics,
        "INGEST_API_TOKENS": CRAWLER_TOKEN,
        "NOTIFY_OPERATOR_TOKEN": "e2e-operator-token-0123456789",
        "INGEST_DATABASE_URL": f"sqlite:///{tmp_path}/ingest.db",
        "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path}/registry.db",
        "NOTIFY_DATABASE_URL": f"sqlite:///{tmp_path}/notify.db",
        "REGISTRY_GROUP_ID": f"{kafka_topics}registry",
        "EXTRACT_GROUP_ID": f"{kafka_topics}extract",
        "NOTIFY_GROUP_ID": f"{kafka_topics}notify",
    }
    services = {
        name: start_service(name, env, tmp_path)
        for name in ("ingest", "extract", "registry", "notify")
    }
    try:
        for service in services.values():
            wait_ready(service)
        yield Pipeline(services, env, tmp_path)
    finally:
        for service in services.values():
            service.stop()
