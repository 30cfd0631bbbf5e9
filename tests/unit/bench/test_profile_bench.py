"""The profiling benchmark's reading of py-spy's raw stacks: idle leaves left out, self and
inclusive shares counted once per stack, the project's own functions picked out."""

from __future__ import annotations

from pathlib import Path

from bench.profile_bench import read_stacks, where_it_goes

RAW = """\
_bootstrap (threading.py:1);_worker (concurrent/futures/thread.py:2) 900
main (services/registry/__main__.py:3);apply_extraction (services/registry/service.py:52);do_execute (site-packages/sqlalchemy/engine/default.py:9) 60
main (services/registry/__main__.py:3);apply_extraction (services/registry/service.py:52);commit_alliances (services/registry/adapters/repository.py:244);do_execute (site-packages/sqlalchemy/engine/default.py:9) 30
main (services/registry/__main__.py:3);_run_once (asyncio/base_events.py:7);select (selectors.py:468) 500
not a stack line
"""


def test_idle_leaves_are_left_out_and_shares_add_up(tmp_path: Path) -> None:
    path = tmp_path / "registry.txt"
    path.write_text(RAW, encoding="utf-8")
    stacks = read_stacks(path)
    assert sum(stacks.values()) == 1490
    profile = where_it_goes(stacks)
    assert profile["busy_samples"] == 90
    assert profile["self"] == [("do_execute (sqlalchemy/engine/default.py)", 100.0)]
    inclusive = dict(profile["inclusive"])
    assert inclusive["apply_extraction (services/registry/service.py)"] == 100.0
    assert round(inclusive["commit_alliances (services/registry/adapters/repository.py)"]) == 33
    assert all("(services/" in frame for frame in inclusive)


def test_a_missing_file_is_no_samples(tmp_path: Path) -> None:
    assert where_it_goes(read_stacks(tmp_path / "none.txt")) == {
        "busy_samples": 0,
        "self": [],
        "inclusive": [],
    }
