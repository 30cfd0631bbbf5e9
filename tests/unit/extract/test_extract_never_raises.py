"""The extractor never raises on text: an exception dead-letters the article it reads.
Real articles are cut, shuffled, spliced and corrupted (seeded, so a failure repeats)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from services.extract.extraction import ArticleInput, extract

RUNS = 400
_PUNCTUATION_AND_NAMES = "。,、“”()《》与和及医院集团联盟卫生院 \n"


def _texts(shared: Path) -> list[str]:
    paths = sorted(shared.glob("eval/*/*.txt")) + sorted(shared.glob("seeds/*.txt"))
    return [p.read_text(encoding="utf-8") for p in paths]


def _variant(rng: random.Random, texts: list[str]) -> str:
    text = rng.choice(texts)
    kind = rng.randrange(4)
    if kind == 0:  # a window anywhere, names and quotes cut in half
        start = rng.randrange(len(text))
        return text[start : start + rng.randrange(5, 400)]
    if kind == 1:  # sentences out of order
        sentences = re.split(r"(?<=[。!?])", text)
        rng.shuffle(sentences)
        return "".join(sentences[: rng.randrange(1, 8)])
    if kind == 2:  # two articles spliced mid-sentence
        other = rng.choice(texts)
        a, b = rng.randrange(len(text)), rng.randrange(len(other))
        return text[a : a + 200] + other[b : b + 200]
    chars = list(text[:600])  # punctuation and name parts dropped in at random
    for _ in range(rng.randrange(1, 20)):
        chars[rng.randrange(len(chars))] = rng.choice(_PUNCTUATION_AND_NAMES)
    return "".join(chars)


def test_no_variant_of_a_real_article_makes_the_extractor_raise(shared_dir: Path) -> None:
    rng = random.Random(20261126)
    texts = _texts(shared_dir)
    assert len(texts) > 100
    failures: list[str] = []
    for _ in range(RUNS):
        body = _variant(rng, texts)
        try:
            extract(ArticleInput(body=body))
        except Exception as error:  # noqa: BLE001 - every failure is collected and reported
            failures.append(f"{type(error).__name__}: {error} <- {body[:120]!r}")
    assert not failures, "\n".join(failures[:10])


def test_the_plaque_that_used_to_raise_is_read() -> None:
    body = "2月18日,安徽省立医院托管的霍山县医院正式挂牌“中国科大附一院霍山医院”。"
    assert extract(ArticleInput(body=body)).relevant
