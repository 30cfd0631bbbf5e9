"""The shared scorer on the seeds, the dev set and this project's own labelled cases."""

from pathlib import Path

from extract_testlib import OWN_CASES, score_set


def test_seeds_score_perfect(shared_dir: Path, tmp_path: Path) -> None:
    result = score_set(shared_dir / "eval" / "seeds.gold.jsonl", shared_dir / "seeds", tmp_path)
    assert not result["missing_predictions"]
    for key in ("relevance", "pairs", "institutions"):
        r = result[key]
        assert (r["precision"], r["recall"], r["f1"]) == (1.0, 1.0, 1.0), (key, r)
    assert result["pairs_macro_f1"] == 1.0
    assert all(v == 1.0 for v in result["attributes"].values()), result["attributes"]


def test_dev_pair_f1(shared_dir: Path, tmp_path: Path) -> None:
    result = score_set(shared_dir / "eval" / "dev.gold.jsonl", shared_dir / "eval" / "dev",
                       tmp_path)
    assert result["pairs"]["f1"] >= 0.90, result
    assert result["relevance"]["f1"] >= 0.90, result


def test_own_cases_pair_f1(shared_dir: Path, tmp_path: Path) -> None:
    result = score_set(OWN_CASES / "cases.gold.jsonl", OWN_CASES / "articles", tmp_path)
    assert result["pairs"]["f1"] >= 0.90, result
    assert result["relevance"]["f1"] >= 0.90, result
