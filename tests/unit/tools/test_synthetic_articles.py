"""The benchmarks' realistic mix: one article in ten reports an alliance, and the
extractor agrees which one (the generator's claim, checked against the real extractor)."""

from __future__ import annotations

from services.extract.extraction import ArticleInput, extract
from tools.articles import generate, generate_mix


def test_one_article_in_ten_of_the_mix_reports_an_alliance() -> None:
    articles = list(generate_mix(100, run="mix"))
    assert sum(a.relevant for a in articles) == 10
    assert len({a.url for a in articles}) == 100
    found = [extract(ArticleInput(body=a.body, title=a.title)).relevant for a in articles]
    assert found == [a.relevant for a in articles]


def test_the_mix_reports_alliances_the_all_relevant_load_does_not() -> None:
    """Else a mix article would only add a source to an alliance the benchmark already made,
    and no alert would be due for it."""
    everything = {(a.lead, a.member) for a in generate(1500, seed=3, run="all")}
    mixed = {(a.lead, a.member) for a in generate_mix(1000, seed=5, run="mix") if a.relevant}
    assert len(mixed) == 100
    assert not everything & mixed
