"""The harness's replicas and PostgreSQL mode, as configured (nothing is started): the
processes' names, what replicas of one service share and what each has of its own, and
which replica each of chaos's SIGKILLs takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos import Faults
from tools.harness import Stack, replica_name
from tools.localpg import LocalPostgres


def server(tmp_path: Path) -> LocalPostgres:
    """A server object that is never started."""
    return LocalPostgres(tmp_path / "pg", port=54329, bin_dir=tmp_path / "no-bin")


def test_one_replica_on_sqlite_is_the_default(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    assert list(stack.services) == ["ingest", "extract", "registry", "notify"]
    assert stack.database == "sqlite" and stack.postgres is None
    for name in ("ingest", "registry", "notify"):
        assert stack[name].env[f"{name.upper()}_DATABASE_URL"] == f"sqlite:///{tmp_path}/{name}.db"
    assert all(p.service == p.name for p in stack.services.values())
    assert "PUBLIC_BASE_URL" not in stack.env


def test_replicas_share_a_group_and_a_database_and_have_ports_of_their_own(
    tmp_path: Path,
) -> None:
    stack = Stack(tmp_path, replicas=2, postgres=server(tmp_path), partitions=6)
    assert list(stack.services) == [
        "ingest",
        "extract",
        "extract-2",
        "registry",
        "registry-2",
        "notify",
        "notify-2",
    ]
    assert stack.database == "postgres" and not stack.owns_postgres
    assert len({p.port for p in stack.services.values()}) == 7
    for service in ("extract", "registry", "notify"):
        first, second = stack.replicas_of(service)
        assert (first.name, second.name) == (service, f"{service}-2")
        assert second.service == service
        assert first.env[f"{service.upper()}_PORT"] == str(first.port)
        assert second.env[f"{service.upper()}_PORT"] == str(second.port)
        group = f"{service.upper()}_GROUP_ID"
        assert first.env[group] == second.env[group] == service
        if service != "extract":
            url = f"{service.upper()}_DATABASE_URL"
            assert first.env[url] == second.env[url]
            assert first.env[url].startswith("postgresql+psycopg://postgres@127.0.0.1:54329/aw_")
    # Alerts link to one dashboard address, whichever registry replica relays the change.
    registry = stack["registry"].url
    assert {p.env["PUBLIC_BASE_URL"] for p in stack.services.values()} == {registry}
    # Ingest is on the same server, in a database of its own.
    urls = {stack.env[f"{n.upper()}_DATABASE_URL"] for n in ("ingest", "registry", "notify")}
    assert len(urls) == 3 and set(stack.databases) == {"ingest", "registry", "notify"}


def test_two_stacks_on_one_server_get_databases_of_their_own(tmp_path: Path) -> None:
    one = Stack(tmp_path / "a", postgres=server(tmp_path))
    two = Stack(tmp_path / "b", postgres=server(tmp_path))
    assert set(one.databases.values()).isdisjoint(two.databases.values())


def test_replicas_need_postgresql(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="database='postgres'"):
        Stack(tmp_path, replicas=2)
    with pytest.raises(ValueError):
        Stack(tmp_path, replicas=0)


def test_replica_names() -> None:
    assert [replica_name("notify", i) for i in (1, 2, 3)] == ["notify", "notify-2", "notify-3"]


def test_the_faults_of_one_replica_are_as_they_were(tmp_path: Path) -> None:
    plan = Faults(Stack(tmp_path), kills=2).plan()
    assert plan.count("broker") == 1 and plan[len(plan) // 2] == "broker"
    assert sorted(p for p in plan if p != "broker") == sorted(["extract", "registry", "notify"] * 2)


def test_each_service_s_kills_take_its_replicas_in_turn(tmp_path: Path) -> None:
    stack = Stack(tmp_path, replicas=2, postgres=server(tmp_path))
    plan = Faults(stack, kills=2, replicas=2).plan()
    for service in ("extract", "registry", "notify"):
        assert [p for p in plan if p.split("-")[0] == service] == [f"{service}-2", service]
    once = Faults(stack, kills=1, replicas=2).plan()
    assert sorted(once) == ["broker", "extract-2", "notify-2", "registry-2"]
