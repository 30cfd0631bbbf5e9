"""The extractor on real, labelled articles (``../shared/eval``), scored by the shared scorer.

These are regression floors on the tuning part (the models were trained on it, so the
figures here are in-sample). The evidence of accuracy is elsewhere: the cross-validated
scores in the model's ``meta`` (``make train-extractor``) and the sealed third of the corpus,
scored at the end of a round (``make eval-sealed``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.extract.extraction import api
from services.extract.extraction.model import MODEL_PATH, trained_models
from tools.extract_eval import SETS, is_sealed, load_set, predict, scorer

#: the sealed third of the corpus, fixed by the file names alone (tools/extract_eval.py)
SEALED = [
    "c002.txt",
    "c004.txt",
    "c005.txt",
    "c008.txt",
    "c009.txt",
    "c011.txt",
    "c017.txt",
    "c019.txt",
    "c022.txt",
    "c024.txt",
    "c029.txt",
    "c032.txt",
    "c034.txt",
    "c035.txt",
    "c037.txt",
    "c043.txt",
    "c046.txt",
    "c049.txt",
    "c052.txt",
    "c053.txt",
    "c055.txt",
    "c057.txt",
    "c058.txt",
    "c062.txt",
    "c064.txt",
    "c068.txt",
    "c069.txt",
    "c070.txt",
    "c071.txt",
    "c073.txt",
    "c079.txt",
]


def _score(sets: list[str]) -> dict[str, Any]:
    golds: list[dict[str, Any]] = []
    preds: list[dict[str, Any]] = []
    for name in sets:
        articles = load_set(name, "tuning")
        golds += [dict(a.gold, file=f"{name}/{a.file}") for a in articles]
        preds += [
            dict(r, file=f"{name}/{r['file']}")
            for r, a in zip(predict(articles), articles, strict=True)
        ]
    result, _ = scorer().score(golds, preds)
    return result  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _needs_shared(shared_dir: Path) -> None:
    """Every test here reads ../shared (skipped when it is absent)."""


def test_the_sealed_third_is_fixed_by_file_names() -> None:
    names = [a.file for a in load_set("corpus", "all")]
    assert [n for n in names if is_sealed(n)] == SEALED
    assert not {a.file for a in load_set("corpus", "tuning")} & set(SEALED)
    assert [a.file for a in load_set("corpus", "sealed")] == SEALED


def test_every_seed_pair_is_found() -> None:
    result = _score(["seeds"])
    assert result["relevance"]["f1"] == 1.0, result
    assert result["pairs"]["recall"] == 1.0, result


def test_tuning_set_floors() -> None:
    result = _score(list(SETS))
    assert result["pairs"]["f1"] >= 0.78, result["pairs"]
    assert result["relevance"]["f1"] >= 0.93, result["relevance"]
    assert result["institutions"]["f1"] >= 0.88, result["institutions"]
    assert result["attributes"]["type"] >= 0.92, result["attributes"]


def test_shipped_model_weighs_only_features_the_code_makes() -> None:
    """Renaming a feature without retraining would silently zero its weight."""
    made: dict[str, set[str]] = {"pair": set(), "lead": set(), "relevance": set()}
    for a in load_set("dev", "tuning") + load_set("dev2", "tuning"):
        body = a.path.read_text(encoding="utf-8")
        fx = api.analyse(api.ArticleInput(body=body)).features
        for x in fx.candidates:
            made["lead"] |= set(fx.unary(x))
            for y in fx.candidates:
                if x != y:
                    made["pair"] |= set(fx.pair(x, y))
        made["relevance"] |= set(fx.article()) | {"max_pair", "max_lead"}
    models = trained_models()
    for name, model in (
        ("pair", models.pair),
        ("lead", models.lead),
        ("relevance", models.relevance),
    ):
        assert set(model.weights) <= made[name], (name, set(model.weights) - made[name])


def test_shipped_model_records_how_it_was_trained() -> None:
    meta = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["meta"]
    assert meta["articles"] >= 100
    cv = meta["cross_validation"]
    assert 0.0 < cv["pairs_f1"] <= 1.0 and 0.0 < cv["relevance_f1"] <= 1.0
