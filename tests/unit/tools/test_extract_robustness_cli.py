"""`python -m tools.extract_robustness`: its command line (what it finds is tested in
tests/unit/extract/test_extract_robustness.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.extract_robustness import main

SHARED = Path(__file__).resolve().parents[3].parent / "shared"


def test_an_unknown_variant_is_refused_with_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--variants", "upside_down"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "unknown variant 'upside_down'" in err and "traditional" in err


def test_a_missing_shared_folder_is_one_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AW_SHARED", str(tmp_path / "nowhere"))
    assert main(["--sets", "dev"]) == 2
    assert "no gold labels at" in capsys.readouterr().err


def test_json_has_the_original_and_each_variant_asked_for(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    monkeypatch.setenv("AW_SHARED", str(SHARED))
    assert main(["--sets", "dev", "--variants", "traditional,site_chrome", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["original", "traditional", "site_chrome"]
    assert report["original"]["scores"]["articles"] == 18
    assert report["traditional"]["changed"] == []
