"""The same article gives the same extraction in every process: nothing may depend on the
order of a set of strings, which Python varies per process (PYTHONHASHSEED)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
#: two specialties named once each: the tie must be broken the same way every time
TIED = (
    "5月10日,湖州市中心医院与德清县人民医院签订专科联盟协议,在心血管、神经内科等6个专科开展合作。"
)


def _extract(files: list[Path], seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-m", "services.extract", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
        check=True,
    )
    return done.stdout


def test_extraction_does_not_depend_on_the_process(shared_dir: Path, tmp_path: Path) -> None:
    tied = tmp_path / "tied.txt"
    tied.write_text(TIED, encoding="utf-8")
    files = [tied, *sorted(shared_dir.glob("eval/*/*.txt"))[::5]]
    first, second = _extract(files, "1"), _extract(files, "2")
    assert len(first.splitlines()) == len(files)
    assert first == second
