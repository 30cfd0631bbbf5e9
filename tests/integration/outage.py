"""Taking a service's PostgreSQL database away and giving it back, for the outage tests."""

from __future__ import annotations

import psycopg
from prometheus_client import REGISTRY
from psycopg import sql

from tools.localpg import SUPERUSER, LocalPostgres

#: How long a database stays away: ten times the old retry budget (6 s), as issue 13 asks.
OUTAGE_SECONDS = 60


def allow_connections(server: LocalPostgres, name: str, allowed: bool) -> None:
    """Open or close database ``name``; closing it also ends the sessions it has."""
    with psycopg.connect(
        host="127.0.0.1", port=server.port, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")
            )
        )
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def retryable_failures(topic: str) -> float:
    value = REGISTRY.get_sample_value(
        "kafka_messages_failed_total", {"topic": topic, "kind": "retryable"}
    )
    return value or 0.0
