"""`make chaos` at a small size: faults while pushing, nothing lost, nothing doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import chaos


def test_chaos_small(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = chaos.run(articles=24, kills=2, budget=420, workdir=tmp_path)
    out = capsys.readouterr().out
    summary = [line for line in out.splitlines() if line.startswith("chaos: ")]
    assert summary, out[-3000:]
    print(summary[-1])
    assert summary[-1].endswith("0 lost, 0 duplicated"), out[-3000:]
    assert " 7 faults" in summary[-1], "two SIGKILLs of each consumer and a broker restart"
    assert code == 0, out[-3000:]
