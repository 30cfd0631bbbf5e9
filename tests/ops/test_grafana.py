"""The Grafana dashboard: valid JSON, panels laid out on the grid, every query valid PromQL
(promtool parses it) reading only metrics that the code exports or the alert rules use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ops.support import (
    DASHBOARDS,
    DEPLOY,
    PROMETHEUS_BUILTINS,
    ExportedMetrics,
    alert_rules,
    grafana_expr,
    load_yaml,
    run_promtool,
    selectors,
)
from tests.ops.test_prometheus import check_expression

#: What an operator must find on the pipeline dashboard, by a word of the panel's title.
EXPECTED_SUBJECTS = (
    "up",
    "alerts",
    "accepted by ingest",
    "consumed",
    "produced",
    "extraction",
    "registry",
    "lag",
    "processing latency",
    "http latency",
    "delivery attempts",
    "failure ratio",
    "delivery latency",
    "disabled",
    "failures",
    "dead-lettered",
    "5xx",
)


def load_dashboard(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found += panel.get("panels", [])  # collapsed rows keep theirs inside
    return found


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def test_there_is_a_pipeline_dashboard() -> None:
    assert [p.name for p in DASHBOARDS] == ["alliance-watch.json"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_the_dashboard_is_well_formed(path: Path) -> None:
    dashboard = load_dashboard(path)
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    occupied: set[tuple[int, int]] = set()
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel.get("description"), panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"{panel['title']} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_the_dashboard_shows_the_pipeline(path: Path) -> None:
    titles = " | ".join(p["title"].lower() for p in panels(load_dashboard(path)))
    missing = [subject for subject in EXPECTED_SUBJECTS if subject not in titles]
    assert not missing, f"no panel about {missing}; panels: {titles}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_is_valid_promql(path: Path, tmp_path: Path) -> None:
    """promtool parses each query, put into a recording rule of a throw-away file."""
    rules = [
        {"record": f"dashboard:query_{n}", "expr": grafana_expr(expr)}
        for n, (_, expr) in enumerate(queries(load_dashboard(path)))
    ]
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run_promtool("check", "rules", str(rule_file), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_reads_metrics_of_the_code_or_the_rules(
    path: Path, exported: ExportedMetrics
) -> None:
    """A metric on the dashboard is exported by a service or read by an alert rule (whose
    own test holds those to the code); labels it filters or groups by exist on it."""
    in_rules = {s.metric for rule in alert_rules() for s in selectors(rule["expr"])}
    problems: list[str] = []
    for title, expr in queries(load_dashboard(path)):
        promql = grafana_expr(expr)
        for selector in selectors(promql):
            known = exported.labels.keys() | in_rules | PROMETHEUS_BUILTINS
            if selector.metric not in known:
                problems.append(f"{title}: {selector.metric} is neither exported nor alerted on")
        problems += check_expression(title, promql, exported)
    assert not problems, "\n".join(problems)


def test_grafana_provisioning_points_at_the_dashboards_and_prometheus() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    sources = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert [(s["type"], s["url"], s["isDefault"]) for s in sources] == [
        ("prometheus", "http://prometheus:9090", True)
    ]
    providers = load_yaml(provisioning / "dashboards" / "alliance-watch.yml")["providers"]
    assert [p["options"]["path"] for p in providers] == ["/var/lib/grafana/dashboards"]
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    mounts = compose["services"]["grafana"]["volumes"]
    assert "./grafana/dashboards:/var/lib/grafana/dashboards:ro" in mounts
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
