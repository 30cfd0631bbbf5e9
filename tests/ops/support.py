"""What the operations tests share: paths, promtool, the metrics the code exports, and a
small PromQL reader that finds the metric names and matcher labels of an expression."""

from __future__ import annotations

import importlib
import pkgutil
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import services

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))

#: The services, their scrape job names and default ports (README, tools/stack.py).
SERVICE_PORTS = {"ingest": 8001, "registry": 8002, "notify": 8003, "extract": 8004}

#: Series every Prometheus has without any service exporting them.
PROMETHEUS_BUILTINS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})

#: Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})


@dataclass(frozen=True)
class Pending:
    """A metric the rules or the dashboard use that the code does not export yet."""

    kind: str
    labels: frozenset[str]
    meaning: str


#: Metrics the rules use ahead of the code, with the type and labels they must get.
PENDING: dict[str, Pending] = {}


def promtool() -> str:
    """The promtool binary; `make setup` installs it with Debian's prometheus package."""
    found = shutil.which("promtool")
    assert found, "promtool not found: run `make setup` (installs Debian's prometheus package)"
    return found


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    assert found, "prometheus not found: run `make setup` (installs Debian's prometheus package)"
    return found


def run_promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of deploy/prometheus/rules, in file order."""
    rules: list[dict[str, Any]] = []
    for path in RULES:
        for group in load_yaml(path)["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


# --- the metrics the code exports ---------------------------------------------------------


@dataclass
class ExportedMetrics:
    """Series names a service's /metrics can show, with the labels of each."""

    labels: dict[str, frozenset[str]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.labels


_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
    "enum": ("",),
}


def exported_metrics() -> ExportedMetrics:
    """Import every module of ``services`` (not the ``__main__`` ones, which start a
    service, nor the migrations) and read what they registered in prometheus_client's
    default registry: the metrics their processes export at /metrics."""
    for module in pkgutil.walk_packages(services.__path__, "services."):
        if module.name.endswith(".__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    exported = ExportedMetrics()
    collectors = list(REGISTRY._collector_to_names)  # the registry has no public list
    for collector in collectors:
        if isinstance(collector, MetricWrapperBase):
            labels = frozenset(collector._labelnames)
            suffixes = _SUFFIXES.get(str(collector._type), ("",))
            for suffix in suffixes:
                name = collector._name + suffix
                # Histogram buckets carry `le`, summaries' quantiles `quantile`.
                extra = {"le"} if suffix == "_bucket" else set()
                exported.labels[name] = labels | extra
        else:  # process, platform and gc collectors: names only
            for name in REGISTRY._collector_to_names[collector]:
                exported.labels.setdefault(name, frozenset())
    return exported


# --- reading PromQL -----------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{([^{}]*)\}")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_RANGE = re.compile(r"\[[^\[\]]*\]")
_IDENT = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)(\s*\()?")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2", "start", "end"}
)


@dataclass(frozen=True)
class Selector:
    metric: str
    labels: frozenset[str]


def selectors(expr: str) -> list[Selector]:
    """The series selectors of a PromQL expression: each metric name with the labels its
    matchers name. Functions, keywords, grouping labels, ranges and strings are left out."""
    # Strings first (they may hold braces or brackets), keeping their place.
    text = _STRING.sub('""', expr)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    found: list[Selector] = []
    position = 0
    while True:
        match = _IDENT.search(text, position)
        if match is None:
            break
        name, call = match.group(1), match.group(2)
        position = match.end()
        if call or name.lower() in _KEYWORDS:
            continue
        labels: frozenset[str] = frozenset()
        rest = text[position:]
        braces = _MATCHERS.match(rest.lstrip())
        if braces is not None:
            labels = frozenset(_MATCHER_LABEL.findall(braces.group(1)))
            position += (len(rest) - len(rest.lstrip())) + braces.end()
        found.append(Selector(name, labels))
    # A bare matcher block such as {__name__="x"} names no metric here: not used by us.
    return found


_GROUPING_LABELS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)", re.IGNORECASE
)


def grouping_labels(expr: str) -> frozenset[str]:
    """Labels named in ``by (...)``, ``without (...)``, ``on (...)`` and the like."""
    text = _STRING.sub('""', expr)
    names: set[str] = set()
    for group in _GROUPING_LABELS.findall(text):
        names |= {n.strip() for n in group.split(",") if n.strip()}
    return frozenset(names)


def grafana_expr(expr: str) -> str:
    """A Grafana panel expression as plain PromQL (its range variables made concrete)."""
    for variable in ("$__rate_interval", "$__interval", "$__range"):
        expr = expr.replace(variable, "5m")
    return expr
