"""The extraction benchmark's own parts: which texts it reads, the article without
punctuation it builds, and the cap on a worst-case extraction."""

from __future__ import annotations

import unicodedata
from pathlib import Path

from bench.extract_bench import real_texts, shown, time_once_each, without_punctuation
from tests.unit.extract_service.extractors import MARK, hang_on_marked

FORMATION = "6月15日,桂林市中西医结合医院与灵川县中医医院建立紧密型医联体。"


def test_the_real_texts_are_the_four_sets_in_a_stable_order(tmp_path: Path) -> None:
    for folder, name, text in [
        ("eval/corpus", "c1.txt", "语料"),
        ("seeds", "s2.txt", "种子二"),
        ("seeds", "s1.txt", "种子一"),
        ("eval/dev2", "d1.txt", "  \n"),  # blank: left out
        ("eval/dev", "notes.md", "不是文章"),
    ]:
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / name).write_text(text, encoding="utf-8")
    assert real_texts(tmp_path) == ["种子一", "种子二", "语料"]
    assert real_texts(tmp_path / "absent") == []


def test_the_article_without_punctuation_is_one_clause_of_the_given_size() -> None:
    texts = [FORMATION, "双方将开展远程会诊、双向转诊。\n签约仪式在 桂林 举行！"]
    body = without_punctuation(texts, 2_000)
    assert 1_997 <= len(body.encode("utf-8")) <= 2_000
    assert not [ch for ch in body if unicodedata.category(ch)[0] in "PZC"]
    assert body.startswith("6月15日桂林市中西医结合医院与灵川县中医医院建立紧密型医联体双方")
    assert "桂林举行6月15日" in body, "the texts repeat until the size is reached"


async def test_a_worst_case_over_its_cap_is_reported_as_over() -> None:
    timings = await time_once_each(
        [FORMATION, MARK + FORMATION, FORMATION], 1.0, warm_up=FORMATION, extract_fn=hang_on_marked
    )
    (fast, kept), over, (again, _) = timings
    assert fast is not None and fast < 1.0 and kept == len(FORMATION)
    assert over == (None, None)
    assert again is not None, "the worker was replaced after the overrun"
    assert shown({"seconds": None, "cap_seconds": 60.0}) == "over 60 s"
    assert shown({"seconds": 0.25, "cap_seconds": 60.0}) == "0.25 s"
