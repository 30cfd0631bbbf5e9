"""Smoke tests of the real local PostgreSQL (tools/localpg.py) and the database_url fixture."""

from __future__ import annotations

import uuid

import psycopg
import sqlalchemy as sa

from tools.localpg import SUPERUSER, LocalPostgres


def test_connect_create_database_and_query(postgres: LocalPostgres) -> None:
    assert postgres.is_running()
    assert postgres.url.startswith(f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:")

    name = f"smoke_{uuid.uuid4().hex[:8]}"
    url = postgres.create_database(name)
    assert url == f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{postgres.port}/{name}"
    assert postgres.create_database(name) == url  # already there: fine

    with psycopg.connect(host="127.0.0.1", port=postgres.port, user=SUPERUSER, dbname=name) as conn:
        conn.execute("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO t VALUES (1, %s), (2, %s)", ("山西医科大学第二医院", "b"))
        rows = conn.execute("SELECT id, name FROM t ORDER BY id").fetchall()
        server = conn.execute("SHOW server_version").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
    assert rows == [(1, "山西医科大学第二医院"), (2, "b")]
    assert server is not None and int(server[0].split(".")[0]) >= 13
    assert listen == ("127.0.0.1",)
    assert fsync == ("off",)

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        engine.dispose()
    postgres.drop_database(name)


def test_database_url_is_fresh_and_usable(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        metadata = sa.MetaData()
        table = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True))
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": 1}, {"id": 2}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 2
    finally:
        engine.dispose()
