import json
import subprocess
import sys
from pathlib import Path

from extract_testlib import REPO

from services.extract.entrypoints.cli import main


def test_cli_one_line_per_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "a.txt"
    a.write_text("4月2日,济宁市第一人民医院与巨野县中医医院签订医联体协议。", encoding="utf-8")
    b = tmp_path / "b.html"
    b.write_text("<html><body><p>今天天气很好,没有什么新闻。</p></body></html>", encoding="utf-8")
    assert main([str(a), str(b), "--published", "2020-04-03"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == ["a.txt", "b.html"]
    assert rows[0]["relevant"] is True and rows[1]["relevant"] is False
    ev = rows[0]["events"][0]
    assert set(ev) >= {
        "type",
        "specialty",
        "lead",
        "members",
        "date",
        "provinces",
        "cross_province",
        "confidence",
        "evidence",
    }
    assert ev["lead"] == ["济宁市第一人民医院"] and ev["members"] == ["巨野县中医医院"]
    assert ev["date"] == "2020-04-02"


def test_cli_manifest(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    a = tmp_path / "x.txt"
    a.write_text("6月15日,桂林市中西医结合医院与灵川县中医医院建立紧密型医联体。", encoding="utf-8")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"path": str(a), "published": "2018-06-19"})
        + "\n"
        + json.dumps({"path": str(a), "published": None})
        + "\n",
        encoding="utf-8",
    )
    assert main(["--manifest", str(manifest)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["events"][0]["date"] for r in rows] == ["2018-06-15", None]


def test_cli_missing_file_exit_code(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.extract", str(tmp_path / "nope.txt")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert "nope.txt" in done.stderr and "Traceback" not in done.stderr
