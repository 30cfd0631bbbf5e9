"""Prometheus: the scrape configuration and alert rules pass promtool, every alert rule is
unit-tested firing and not firing, the rules read only metrics the code exports, and a real
Prometheus scrapes the running pipeline and fires the dead-letter alert."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import yaml

from services.common.kafka.publisher import KafkaPublisher
from tests.e2e.conftest import CRAWLER_TOKEN, Pipeline
from tests.ops.support import (
    PENDING,
    PROMETHEUS_BUILTINS,
    PROMETHEUS_DIR,
    ROOT,
    RULE_TESTS,
    RULES,
    SERVICE_PORTS,
    TARGET_LABELS,
    ExportedMetrics,
    alert_rules,
    grouping_labels,
    load_yaml,
    prometheus_binary,
    run_promtool,
    selectors,
)

# --- promtool -----------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["prometheus.yml", "compose.yml"])
def test_promtool_accepts_the_scrape_configuration(config: str) -> None:
    result = run_promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid prometheus config file syntax" in result.stdout + result.stderr


@pytest.mark.parametrize("config", ["prometheus.yml", "compose.yml"])
def test_the_configuration_scrapes_the_four_services(config: str) -> None:
    loaded = load_yaml(PROMETHEUS_DIR / config)
    jobs = {job["job_name"]: job for job in loaded["scrape_configs"]}
    assert set(jobs) == set(SERVICE_PORTS)
    for name, job in jobs.items():
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets = [t for static in job["static_configs"] for t in static["targets"]]
        assert [t.rpartition(":")[2] for t in targets] == [str(SERVICE_PORTS[name])]
    assert loaded["rule_files"] == ["rules/*.yml"]


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", *(str(p) for p in RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULES)


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = run_promtool("test", "rules", *(str(p) for p in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS), result.stdout


def test_every_alert_is_unit_tested_firing_and_not_firing() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    tested_files: set[str] = set()
    for path in RULE_TESTS:
        suite = load_yaml(path)
        tested_files |= {(path.parent / f).resolve().name for f in suite["rule_files"]}
        for case in suite["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names)), "alert names must be unique"
    assert tested_files == {p.name for p in RULES}
    assert not set(names) - firing, f"never shown firing: {sorted(set(names) - firing)}"
    assert not set(names) - quiet, f"never shown quiet: {sorted(set(names) - quiet)}"
    assert not (firing | quiet) - set(names), "tests of alerts that do not exist"


def test_every_alert_says_how_bad_and_what_happened() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_the_rules_read_only_metrics_the_code_exports(exported: ExportedMetrics) -> None:
    """Every metric an alert reads is exported by some service (or is Prometheus' own, or
    is listed in PENDING with the type and labels the code must give it), and every label
    the alert names exists on the metrics it reads."""
    problems: list[str] = []
    for rule in alert_rules():
        problems += check_expression(rule["alert"], rule["expr"], exported)
    assert not problems, "\n".join(problems)


def known_labels(metric: str, exported: ExportedMetrics) -> frozenset[str] | None:
    if metric in exported:
        return exported.labels[metric] | TARGET_LABELS
    if metric in PENDING:
        return PENDING[metric].labels | TARGET_LABELS
    if metric in PROMETHEUS_BUILTINS:
        return TARGET_LABELS | {"alertname", "alertstate", "severity"}
    return None


def check_expression(where: str, expr: str, exported: ExportedMetrics) -> list[str]:
    problems: list[str] = []
    available: set[str] = set()
    found = selectors(expr)
    if not found:
        problems.append(f"{where}: no metric found in {expr!r}")
    for selector in found:
        labels = known_labels(selector.metric, exported)
        if labels is None:
            problems.append(f"{where}: {selector.metric} is exported by no service")
            continue
        available |= labels
        unknown = selector.labels - labels
        if unknown:
            problems.append(f"{where}: {selector.metric} has no label {sorted(unknown)}")
    missing = grouping_labels(expr) - available
    if found and missing:
        problems.append(f"{where}: groups by {sorted(missing)}, which no metric it reads has")
    return problems


# --- a real Prometheus scraping the running pipeline ----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrometheusServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    async def query(self, client: httpx.AsyncClient, promql: str) -> list[dict[str, Any]]:
        answer = await client.get(self.url + "/api/v1/query", params={"query": promql})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def alerts(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        answer = await client.get(self.url + "/api/v1/alerts")
        assert answer.status_code == 200, answer.text
        alerts: list[dict[str, Any]] = answer.json()["data"]["alerts"]
        return alerts


def scrape_config(pipeline: Pipeline) -> dict[str, Any]:
    """The deployed rules, and the pipeline's services scraped every second."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in RULES],
        "scrape_configs": [
            {
                "job_name": name,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"127.0.0.1:{service.port}"]}],
            }
            for name, service in pipeline.services.items()
        ],
    }


@pytest.fixture
def prometheus(pipeline: Pipeline, tmp_path: Path) -> Iterator[PrometheusServer]:
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(pipeline)), encoding="utf-8")
    checked = run_promtool("check", "config", str(config), cwd=workdir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                prometheus_binary(),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"prometheus exited:\n{server.output()}"
            try:
                if httpx.get(server.url + "/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"prometheus not ready:\n{server.output()}"
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def eventually(what: str, check: Any, server: PrometheusServer, timeout: float) -> Any:
    """Poll the coroutine function ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; prometheus:\n{server.output()}")
        await asyncio.sleep(0.5)


def json_log_lines(path: Path) -> list[dict[str, Any]]:
    """A service's log: one JSON object a line (anything else fails the test)."""
    lines: list[dict[str, Any]] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"{path.name}:{number} is not JSON: {text[:200]}") from exc
    return lines


def scalar(result: list[dict[str, Any]]) -> float:
    return sum(float(series["value"][1]) for series in result)


async def test_prometheus_scrapes_the_pipeline_and_fires_the_dead_letter_alert(
    pipeline: Pipeline, prometheus: PrometheusServer, client: httpx.AsyncClient
) -> None:
    # Every service is scraped: `up` is 1 for the four jobs.
    async def all_up() -> dict[str, str] | None:
        result = await prometheus.query(client, "up")
        up = {series["metric"]["job"]: series["value"][1] for series in result}
        return up if up == dict.fromkeys(SERVICE_PORTS, "1") else None

    await eventually("up == 1 for the four jobs", all_up, prometheus, 30)

    # An article pushed to ingest is counted by ingest, extract and the registry, as read
    # back through Prometheus' HTTP API.
    article = json.loads((ROOT / "demo" / "articles.jsonl").read_text().splitlines()[0])
    answer = await client.post(
        pipeline["ingest"].url + "/v1/articles",
        json=article,
        headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"},
    )
    assert answer.status_code == 202, answer.text
    flowing = {
        "ingest produced it": 'kafka_messages_produced_total{job="ingest", '
        'topic=~"(.+\\\\.)?articles\\\\.raw"}',
        "extract extracted it": 'extract_articles_total{job="extract"}',
        "registry consumed it": 'kafka_messages_consumed_total{job="registry"}',
    }
    for what, promql in flowing.items():

        async def counted(promql: str = promql) -> bool:
            return scalar(await prometheus.query(client, promql)) >= 1

        await eventually(what, counted, prometheus, 60)
    accepted = await prometheus.query(client, 'http_requests_total{job="ingest", status="202"}')
    assert scalar(accepted) == 1

    # The same article can be followed through the services' JSON logs by its article_id.
    article_id = answer.json()["article_id"]
    for name in ("ingest", "extract", "registry"):
        lines = json_log_lines(pipeline[name].log)
        assert all({"ts", "level", "service", "msg"} <= line.keys() for line in lines)
        mine = [line for line in lines if line.get("article_id") == article_id]
        assert mine and all(line["service"] == name for line in mine), name

    # A message that is not an article goes to the dead-letter topic, and the alert fires.
    topic = pipeline.env["TOPIC_PREFIX"] + "articles.raw"
    publisher = KafkaPublisher(pipeline.env["KAFKA_BOOTSTRAP_SERVERS"], client_id="ops-test")
    await publisher.start()
    try:
        await publisher.publish(topic, b"not-an-article", b"{this is not json")
    finally:
        await publisher.stop()

    async def dead_letter_alert() -> dict[str, Any] | None:
        for alert in await prometheus.alerts(client):
            if alert["labels"]["alertname"] == "KafkaDeadLetters" and alert["state"] == "firing":
                return alert
        return None

    alert = await eventually("KafkaDeadLetters firing", dead_letter_alert, prometheus, 60)
    assert alert["labels"]["job"] == "extract"
    assert alert["labels"]["topic"] == topic
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["summary"] == f"extract dead-lettered messages from {topic}"
    dead = await prometheus.query(client, 'kafka_messages_dead_lettered_total{job="extract"}')
    assert scalar(dead) == 1
