"""What the role patterns need in a sentence (``cues.*_NEEDS``): ``read_cues`` does not search a
sentence without it, so each need must hold for every match of its pattern. The needs are
checked here against the patterns themselves, as the regex parser reads them."""

from __future__ import annotations

import re
from re import _constants as sre  # the regex parser: how it reads a pattern
from re import _parser
from typing import Any

import pytest

from services.extract.extraction import cues


def _required(items: Any) -> list[frozenset[str]]:
    """Character sets of which every match of the sequence ``items`` holds one (each set
    alone is such a set)."""
    out: list[frozenset[str]] = []
    for op, av in items:
        out += _required_item(op, av)
    return out


def _required_item(op: Any, av: Any) -> list[frozenset[str]]:
    if op is sre.LITERAL:
        return [frozenset(chr(av))]
    if op is sre.IN and all(o is sre.LITERAL for o, _ in av):
        return [frozenset(chr(a) for _, a in av)]
    if op is sre.SUBPATTERN:
        return _required(av[3])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[0] >= 1:
        return _required(av[2])
    if op is sre.BRANCH:
        alternatives = [_required(alt) for alt in av[1]]
        if all(alternatives):
            # whichever alternative matches holds one character of its smallest set
            return [frozenset().union(*(min(a, key=len) for a in alternatives))]
    return []  # optional parts, classes and assertions require nothing


CASES = [
    (name, k, pattern, needs)
    for name, patterns, all_needs in (
        ("LEAD_UNARY", cues.LEAD_UNARY, cues.LEAD_UNARY_NEEDS),
        ("MEMBER_UNARY", cues.MEMBER_UNARY, cues.MEMBER_UNARY_NEEDS),
        ("DIRECTED", cues.DIRECTED, cues.DIRECTED_NEEDS),
    )
    for k, (pattern, needs) in enumerate(zip(patterns, all_needs, strict=True))
]


@pytest.mark.parametrize(("name", "k", "pattern", "needs"), CASES)
def test_every_match_holds_what_its_pattern_needs(
    name: str, k: int, pattern: re.Pattern[str], needs: tuple[str, ...]
) -> None:
    required = _required(_parser.parse(pattern.pattern, pattern.flags))
    for chars in needs:
        assert any(r <= set(chars) for r in required), f"{name}[{k}] does not need {chars!r}"


def test_a_wrong_need_is_caught() -> None:
    pattern = re.compile(r"(?P<mem>〔\d+〕)(?:正式)?(?:加入|加盟)")
    assert any(r <= set("加") for r in _required(_parser.parse(pattern.pattern)))
    assert not any(r <= set("正") for r in _required(_parser.parse(pattern.pattern)))
    assert not any(r <= set("入") for r in _required(_parser.parse(pattern.pattern)))
