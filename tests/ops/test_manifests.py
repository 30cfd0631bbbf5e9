"""The deploy manifests, checked with what this machine has (no Docker engine, no cluster):
every YAML parses, the services run the right module with probes on the right paths and
ports, every setting they are given is one the services read, and the references between
objects (Service to Deployment, autoscaler to Deployment, env to ConfigMap and Secret) hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from services.common.settings import ServiceSettings
from services.extract.config import ExtractSettings
from services.ingest.config import IngestSettings
from services.notify.config import NotifySettings
from services.registry.config import RegistrySettings
from tests.ops.support import DEPLOY, ROOT, SERVICE_PORTS, load_yaml, load_yaml_documents

K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "docker-compose.yml"
NAMESPACE = "alliance-watch"
SETTINGS: dict[str, type[BaseSettings]] = {
    "ingest": IngestSettings,
    "extract": ExtractSettings,
    "registry": RegistrySettings,
    "notify": NotifySettings,
}


def setting_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variable names a settings class reads (its validation aliases)."""
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias)
        elif isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(name.upper())
    return names


ALL_SETTINGS = set().union(*(setting_names(s) for s in SETTINGS.values()))


def test_the_settings_names_are_read_from_the_code() -> None:
    assert {"KAFKA_BOOTSTRAP_SERVERS", "APP_ENV", "BIND_HOST"} <= setting_names(ServiceSettings)
    assert {"INGEST_PORT", "INGEST_API_TOKENS"} <= setting_names(IngestSettings)
    assert "NOTIFY_OPERATOR_TOKEN" in setting_names(NotifySettings)


# --- every YAML file parses ------------------------------------------------------------


ALL_YAML = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])


@pytest.mark.parametrize("path", ALL_YAML, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    documents = load_yaml_documents(path)
    assert documents and all(isinstance(d, dict) for d in documents)


# --- Dockerfile ---------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_one_image_runs_any_service_by_module() -> None:
    instructions = dockerfile_instructions()
    by_kind: dict[str, list[str]] = {}
    for kind, argument in instructions:
        by_kind.setdefault(kind, []).append(argument)
    # The dashboard's npm assets are built in a first stage; the services run in the last.
    assert by_kind["FROM"] == ["node:20-slim AS web-assets", "python:3.11-slim"]
    assert by_kind["ENTRYPOINT"] == ['["python", "-m"]']
    local = [a for a in by_kind["COPY"] if not a.startswith("--from=")]
    copied = {name for argument in local for name in argument.split()[:-1]}
    assert copied == {
        "pyproject.toml",
        "LICENSE",
        "NOTICE",
        "package.json",
        "package-lock.json",
        "services",
        "tools",
    }
    assert all((ROOT / name).exists() for name in copied)
    staged = [a for a in by_kind["COPY"] if a.startswith("--from=web-assets")]
    assert staged == ["--from=web-assets /assets/node_modules ./node_modules"]
    assert by_kind["USER"] and by_kind["USER"][-1] not in {"root", "0"}
    exposed = {int(p) for argument in by_kind["EXPOSE"] for p in argument.split()}
    assert exposed == set(SERVICE_PORTS.values())
    env_names = {
        m.group(1) for argument in by_kind["ENV"] for m in re.finditer(r"(\w+)=", argument)
    }
    app_names = {n for n in env_names if not n.startswith(("PYTHON", "PIP_"))}
    assert app_names == {"BIND_HOST"} and app_names <= setting_names(ServiceSettings)
    assert (DEPLOY / "Dockerfile.dockerignore").exists()


# --- docker-compose ---------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(COMPOSE)
    return loaded


def test_compose_runs_the_whole_system() -> None:
    services = compose()["services"]
    assert set(services) == {
        "kafka",
        "postgres",
        "topics",
        "ingest",
        "extract",
        "registry",
        "notify",
        "prometheus",
        "grafana",
    }
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    assert kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def test_compose_creates_the_topics_once_kafka_is_healthy() -> None:
    topics = compose()["services"]["topics"]
    assert topics["command"][:3] == ["tools.topics", "--bootstrap", "kafka:9092"]
    assert topics["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert topics["restart"] == "no"
    assert topics["build"]["dockerfile"] == "deploy/Dockerfile"


@pytest.mark.parametrize("name", SERVICE_PORTS)
def test_compose_service(name: str) -> None:
    service = compose()["services"][name]
    port = SERVICE_PORTS[name]
    assert service["command"] == [f"services.{name}"]
    assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert service["image"] == compose()["services"]["topics"]["image"]
    environment: dict[str, Any] = service["environment"]
    unknown = set(environment) - setting_names(SETTINGS[name])
    assert not unknown, f"{name} does not read {sorted(unknown)}"
    assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert environment["BIND_HOST"] == "0.0.0.0"
    assert environment[f"{name.upper()}_PORT"] == str(port)
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"])
    assert service["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    for key, value in environment.items():
        if key.endswith("_DATABASE_URL"):
            assert value.startswith("postgresql+psycopg://") and "@postgres:5432/" in value
            assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_compose_mounts_files_that_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    init = (DEPLOY / "postgres" / "init-databases.sql").read_text()
    for database in ("ingest", "registry", "notify"):
        assert f"CREATE DATABASE {database};" in init


def test_compose_config_with_the_docker_cli() -> None:
    """`docker compose config` needs only the CLI and its compose plugin, no engine."""
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        ).returncode
    ):
        pytest.skip("the docker CLI has no compose plugin here (the YAML checks above stand)")
    secrets = {
        "INGEST_API_TOKENS": "t" * 32,
        "NOTIFY_OPERATOR_TOKEN": "o" * 32,
        "NOTIFY_SECRETS_KEY": "k" * 43 + "=",
        "NOTIFY_UNSUBSCRIBE_SECRET": "u" * 32,
        "POSTGRES_PASSWORD": "p" * 16,
        "GRAFANA_ADMIN_PASSWORD": "g" * 16,
    }
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **secrets},
        check=False,
    )
    assert result.returncode == 0, result.stderr


# --- Kubernetes -------------------------------------------------------------------------


def k8s_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects += load_yaml_documents(path)
    return objects


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == kind}


def test_kustomization_lists_every_manifest() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert kustomization["namespace"] == NAMESPACE


def test_every_object_is_named_and_namespaced() -> None:
    for obj in k8s_objects():
        assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"], obj
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]


def test_configmap_and_secret_hold_only_settings_the_services_read() -> None:
    (config,) = of_kind("ConfigMap").values()
    (secret,) = of_kind("Secret").values()
    assert not set(config["data"]) - ALL_SETTINGS
    assert not set(secret["stringData"]) - ALL_SETTINGS
    assert all(isinstance(v, str) for v in config["data"].values())
    secrets = {
        "INGEST_API_TOKENS",
        "NOTIFY_OPERATOR_TOKEN",
        "NOTIFY_SECRETS_KEY",
        "NOTIFY_UNSUBSCRIBE_SECRET",
    }
    assert secrets <= set(secret["stringData"])
    assert not secrets & set(config["data"])
    assert config["data"]["APP_ENV"] == "production"
    assert config["data"]["BIND_HOST"] == "0.0.0.0"


def container_env(container: dict[str, Any]) -> set[str]:
    """The variable names a container gets, from env and from envFrom's ConfigMaps."""
    configmaps = of_kind("ConfigMap")
    secrets = of_kind("Secret")
    names = {entry["name"] for entry in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(configmaps[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            names |= set(secrets[source["secretRef"]["name"]]["stringData"])
    return names


def resolve_port(container: dict[str, Any], port: int | str) -> int:
    for declared in container["ports"]:
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    raise AssertionError(f"port {port} is not declared by {container['name']}")


def test_there_is_a_deployment_per_service() -> None:
    assert set(of_kind("Deployment")) == set(SERVICE_PORTS)


@pytest.mark.parametrize("name", SERVICE_PORTS)
def test_deployment(name: str) -> None:
    deployment = of_kind("Deployment")[name]
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    (container,) = template["spec"]["containers"]
    port = SERVICE_PORTS[name]
    assert container["args"] == [f"services.{name}"]
    assert container["image"] == "alliance-watch:0.1.0"
    assert [p["containerPort"] for p in container["ports"]] == [port]
    ready = container["readinessProbe"]["httpGet"]
    alive = container["livenessProbe"]["httpGet"]
    assert ready["path"] == "/readyz" and resolve_port(container, ready["port"]) == port
    assert alive["path"] == "/healthz" and resolve_port(container, alive["port"]) == port
    assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    assert template["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert container["resources"]["requests"]["cpu"]
    # Every variable is one this service reads (common settings included).
    own = setting_names(SETTINGS[name])
    explicit = {entry["name"] for entry in container.get("env", [])}
    assert not explicit - own, f"{name} does not read {sorted(explicit - own)}"
    assert not container_env(container) - ALL_SETTINGS
    port_value = {e["name"]: e.get("value") for e in container["env"]}[f"{name.upper()}_PORT"]
    assert port_value == str(port)
    # What the service requires is there; secrets come from the Secret.
    secrets = of_kind("Secret")
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secrets[ref["name"]]["stringData"], ref
    required = {
        "ingest": {"INGEST_API_TOKENS", "INGEST_DATABASE_URL"},
        "registry": {"REGISTRY_DATABASE_URL"},
        "notify": {
            "NOTIFY_OPERATOR_TOKEN",
            "NOTIFY_SECRETS_KEY",
            "NOTIFY_UNSUBSCRIBE_SECRET",
            "NOTIFY_DATABASE_URL",
        },
        "extract": set(),
    }[name] | {"KAFKA_BOOTSTRAP_SERVERS", "APP_ENV", "BIND_HOST"}
    assert required <= container_env(container)


def test_every_service_selects_a_deployment_and_its_port() -> None:
    deployments = of_kind("Deployment")
    services = of_kind("Service")
    assert set(services) == set(SERVICE_PORTS)
    for name, service in services.items():
        selector = service["spec"]["selector"]
        matching = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert [d["metadata"]["name"] for d in matching] == [name]
        (container,) = matching[0]["spec"]["template"]["spec"]["containers"]
        for port in service["spec"]["ports"]:
            assert resolve_port(container, port["targetPort"]) == SERVICE_PORTS[name]
            assert port["port"] == SERVICE_PORTS[name]


def test_extract_scales_on_cpu_up_to_the_partition_count() -> None:
    (hpa,) = of_kind("HorizontalPodAutoscaler").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "extract")
    assert "extract" in of_kind("Deployment")
    (job,) = of_kind("Job").values()
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    partitions = int(args[args.index("--partitions") + 1])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


def test_replicas_fit_the_partitions_and_share_their_group_and_database() -> None:
    """README's *Running replicas*: two of each service (extract's count is the
    autoscaler's), no more than the partitions, one group id per service whatever the pod,
    PostgreSQL for every service with a database, one PUBLIC_BASE_URL."""
    deployments = of_kind("Deployment")
    (hpa,) = of_kind("HorizontalPodAutoscaler").values()
    (job,) = of_kind("Job").values()
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    partitions = int(args[args.index("--partitions") + 1])
    assert "replicas" not in deployments["extract"]["spec"], "the autoscaler owns it"
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    for name in ("ingest", "registry", "notify"):
        assert 2 <= deployments[name]["spec"]["replicas"] <= partitions
    (secret,) = of_kind("Secret").values()
    for name in ("ingest", "registry", "notify"):
        assert secret["stringData"][f"{name.upper()}_DATABASE_URL"].startswith("postgresql")
    for name in ("extract", "registry", "notify"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        group = {e["name"]: e for e in container["env"]}[f"{name.upper()}_GROUP_ID"]
        assert group == {"name": f"{name.upper()}_GROUP_ID", "value": name}
    (config,) = of_kind("ConfigMap").values()
    assert config["data"]["PUBLIC_BASE_URL"].startswith("https://")


def test_a_job_creates_the_topics() -> None:
    (job,) = of_kind("Job").values()
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] in {"OnFailure", "Never"}
    (container,) = spec["containers"]
    assert container["args"][0] == "tools.topics"
    referenced = {m for arg in container["args"] for m in re.findall(r"\$\((\w+)\)", arg)}
    assert referenced == {"KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PREFIX"}
    assert referenced <= container_env(container)
