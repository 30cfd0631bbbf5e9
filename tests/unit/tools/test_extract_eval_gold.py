"""`python -m tools.extract_eval --gold FILE --texts DIR`: the extractor scored on any gold
file, such as the articles analysts reviewed. The text is the team's own, written here:
this tests the plumbing (finding texts, naming rows, scoring), not the extractor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.extract_eval import load_gold, main, shared_dir

#: scoring runs the shared scorer itself; a checkout without ../shared beside it cannot
needs_scorer = pytest.mark.skipif(
    not (shared_dir() / "eval" / "score.py").is_file(), reason="../shared/eval/score.py absent"
)

TEXT = (
    "2023年10月14日，河津市人民医院与山西医科大学第二医院签约，"
    "正式成立骨科专科联盟，山西医科大学第二医院为牵头单位。"
)
GOLD = {
    "file": "reviewed-1",
    "url": "https://news.example.org/1",
    "title": "骨科专科联盟成立",
    "published": "2023-10-15",
    "is_alliance_event": True,
    "events": [
        {
            "type": "specialty_alliance",
            "specialty": "骨科",
            "lead": ["山西医科大学第二医院"],
            "members": ["河津市人民医院"],
            "date": "2023-10-14",
            "provinces": ["山西"],
            "cross_province": False,
            "evidence": "河津市人民医院与山西医科大学第二医院签约",
        }
    ],
}
NEGATIVE = {"file": "reviewed-2.txt", "published": None, "is_alliance_event": False, "events": []}


def write(tmp_path: Path, rows: list[dict[str, object]]) -> tuple[Path, Path]:
    gold = tmp_path / "reviews.jsonl"
    gold.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    texts = tmp_path / "texts"
    texts.mkdir()
    return gold, texts


def test_texts_are_found_as_the_file_or_the_file_dot_txt(tmp_path: Path) -> None:
    gold, texts = write(tmp_path, [GOLD, NEGATIVE])
    (texts / "reviewed-1.txt").write_text(TEXT, "utf-8")
    (texts / "reviewed-2.txt").write_text("今日天气晴。", "utf-8")
    articles = load_gold(gold, texts)
    assert [(a.file, a.path.name) for a in articles] == [
        ("reviewed-1", "reviewed-1.txt"),
        ("reviewed-2.txt", "reviewed-2.txt"),
    ]


@needs_scorer
def test_missing_texts_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold, texts = write(tmp_path, [GOLD, NEGATIVE])
    with pytest.raises(FileNotFoundError, match="reviewed-1, reviewed-2.txt"):
        load_gold(gold, texts)
    assert main(["--gold", str(gold), "--texts", str(texts)]) == 2
    assert "reviewed-1" in capsys.readouterr().err


@needs_scorer
def test_the_gold_file_is_scored_under_its_own_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gold, texts = write(tmp_path, [GOLD, NEGATIVE])
    (texts / "reviewed-1.txt").write_text(TEXT, "utf-8")
    (texts / "reviewed-2.txt").write_text("今日天气晴，市民出行注意防晒。", "utf-8")
    assert main(["--gold", str(gold), "--texts", str(texts), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["reviews"]
    assert result["articles"] == 2
    assert result["missing_predictions"] == []  # rows carry the gold's names
    assert result["relevance"]["gold"] == 1


def test_gold_needs_texts() -> None:
    with pytest.raises(SystemExit):
        main(["--gold", "x.jsonl"])
