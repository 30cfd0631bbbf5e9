"""`make chaos` at a small size: faults while pushing, nothing lost, nothing doubled; with
one process per service, and with two replicas of extract, registry and notify
(`CHAOS_REPLICAS=2 make chaos`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import chaos


def summary_of(out: str) -> str:
    summary = [line for line in out.splitlines() if line.startswith("chaos: ")]
    assert summary, out[-3000:]
    print(summary[-1])
    return summary[-1]


def test_chaos_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = chaos.run(articles=24, kills=2, budget=420, workdir=tmp_path)
    out = capsys.readouterr().out
    summary = summary_of(out)
    assert summary.endswith("1 replica, 0 lost, 0 duplicated"), out[-3000:]
    assert " 7 faults" in summary, "two SIGKILLs of each consumer and a broker restart"
    assert code == 0, out[-3000:]


def test_chaos_two_replicas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = chaos.run(articles=24, kills=1, budget=420, workdir=tmp_path, replicas=2)
    out = capsys.readouterr().out
    summary = summary_of(out)
    assert summary.endswith("2 replicas, 0 lost, 0 duplicated"), out[-3000:]
    assert " 4 faults" in summary, "a SIGKILL of one replica of each consumer, the broker"
    assert code == 0, out[-3000:]
    report = json.loads((tmp_path / "chaos.json").read_text())
    kills = [fault for fault in report["faults"] if "SIGKILLed" in fault]
    # Each kill was seen in the group both ways: the survivor holding all 6 partitions,
    # then the restarted replica its share again.
    assert len(kills) == 3 and all("partitions 6 after" in k for k in kills), kills
    assert all("restarted (partitions 3+3" in k for k in kills), kills
    assert set(report["work_since_last_start"]) == {
        f"{service}{suffix}" for service in chaos.CONSUMERS for suffix in ("", "-2")
    }
