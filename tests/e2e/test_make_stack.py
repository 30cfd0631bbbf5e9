"""`make up`, `make status` and `make down` as an operator types them, with every port
moved off its default (its own broker included, all on loopback): `make up` says where
everything is and records it, `make status` and `make down` find the services without the
variables that chose the ports, and the README's push example works as written on them."""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.localkafka import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ingest", "registry", "notify", "extract")
PORTS = {name: f"{name.upper()}_PORT" for name in SERVICES}
#: Variables of the developer's shell that would steer this stack elsewhere.
STEERING = re.compile(r".*_(PORT|DATABASE_URL)$|KAFKA_.*|TOPIC_PREFIX|AW_RUN_DIR")


def make(target: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), target],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def readme_push_example() -> str:
    """The README's push example, from `curl` to the end of its JSON body."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^curl -s localhost:8001/v1/articles .*?\}'$", text, re.M | re.S)
    assert found, "the README has no push example"
    return found.group(0)


@pytest.fixture
def operator_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An operator's environment: the stack's state in a private run directory, its
    secrets set (so no .env is written), nothing else steering it. Stops what is left."""
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not STEERING.fullmatch(k)}
    env.update(
        AW_RUN_DIR=str(run_dir),
        INGEST_API_TOKENS="crawler-" + secrets.token_urlsafe(24),
        NOTIFY_OPERATOR_TOKEN=secrets.token_urlsafe(24),
        REGISTRY_OPERATOR_TOKEN=secrets.token_urlsafe(24),
        NOTIFY_SECRETS_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        INGEST_DATABASE_URL=f"sqlite:///{tmp_path / 'ingest.db'}",
        REGISTRY_DATABASE_URL=f"sqlite:///{tmp_path / 'registry.db'}",
        NOTIFY_DATABASE_URL=f"sqlite:///{tmp_path / 'notify.db'}",
    )
    try:
        yield env
    finally:
        if (run_dir / "stack.json").exists() or any(run_dir.glob("*.pid")):
            subprocess.run(
                [sys.executable, "-m", "tools.stack", "down"], cwd=ROOT, env=env, timeout=120
            )


def test_make_up_status_down_on_other_ports(operator_env: dict[str, str]) -> None:
    run_dir = Path(operator_env["AW_RUN_DIR"])
    ports = {name: free_port() for name in SERVICES}
    broker = free_port()
    while {broker, broker + 1} & set(ports.values()):  # the controller takes the next port
        broker = free_port()
    kafka = f"127.0.0.1:{broker}"
    chosen = {PORTS[name]: str(port) for name, port in ports.items()}
    up_env = dict(operator_env, **chosen, KAFKA_BOOTSTRAP_SERVERS=kafka, KAFKA_PARTITIONS="1")

    # make up: ready, and says where everything is.
    up = make("up", up_env, timeout=300)
    assert up.returncode == 0, up.stdout + up.stderr
    said = up.stdout
    for name, port in ports.items():
        url = f"http://127.0.0.1:{port}"
        assert re.search(rf"\[stack\]   {name} +{url} +API docs {url}/docs", said), said
    assert f"dashboard http://127.0.0.1:{ports['registry']}/" in said
    assert f"kafka     {kafka}" in said
    assert "INGEST_API_TOKENS in the environment" in said, "where the crawler token is"
    assert f"logs      {run_dir}/<service>.log" in said
    record: dict[str, Any] = json.loads((run_dir / "stack.json").read_text())
    assert {n: s["port"] for n, s in record["services"].items()} == ports
    assert record["kafka"]["bootstrap_servers"] == kafka
    assert record["dashboard"] == f"http://127.0.0.1:{ports['registry']}/"

    # make status, without the variables that chose the ports: right, and no make error.
    status = make("status", operator_env, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "make: ***" not in status.stderr
    for name, port in ports.items():
        line = re.search(rf"^\[stack\] {name} .*$", status.stdout, re.M)
        assert line, status.stdout
        assert f"http://127.0.0.1:{port}" in line.group(0) and line.group(0).endswith(", ready")
    assert re.search(rf"^\[stack\] kafka +{kafka} +answering$", status.stdout, re.M)

    # The README's push example, as written but for the port.
    example = readme_push_example().replace("localhost:8001", f"localhost:{ports['ingest']}")
    token = operator_env["INGEST_API_TOKENS"]
    pushed = subprocess.run(
        ["bash", "-c", example],
        env=dict(operator_env, TOKEN=token),
        capture_output=True,
        text=True,
        timeout=60,
    )
    answer = json.loads(pushed.stdout)
    assert answer["duplicate"] is False, pushed.stdout + pushed.stderr
    registry = f"http://127.0.0.1:{ports['registry']}"
    deadline = time.monotonic() + 90
    listed: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not (listed and listed[0]["alliance_ids"]):
        listed = httpx.get(registry + "/v1/articles", timeout=5).json()["items"]
        time.sleep(0.5)
    assert [a["article_id"] for a in listed] == [answer["article_id"]]
    (alliance_id,) = listed[0]["alliance_ids"]
    alliance = httpx.get(f"{registry}/v1/alliances/{alliance_id}", timeout=5).json()
    assert alliance["date"] == "2024-04-20", "published_at gave 4月20日 its year"
    assert alliance["type"] == "specialty_alliance" and alliance["specialty"] == "骨科"

    # make down, without the variables either: nothing left running, the record gone.
    pids = [s["pid"] for s in record["services"].values()]
    down = make("down", operator_env, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert all(f"stopped {name}" in down.stdout for name in SERVICES), down.stdout
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert not (run_dir / "stack.json").exists()
    assert not (run_dir / "kafka" / "kafka.pid").exists(), "the broker stopped too"
    after = make("status", operator_env, timeout=60)
    assert after.stdout.count(" stopped") == len(SERVICES) + 1, after.stdout
    assert after.returncode != 0 and "status] Error 1" in after.stderr, "not ready: exit 1"
