"""Extraction functions the tests inject into the worker process (they live in a module
of their own because the worker, a spawned interpreter, imports them by name), and how
the tests tell that a worker process is gone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from services.extract.adapters.isolation import WARM_UP
from services.extract.extraction import ArticleInput, ExtractionResult, extract

#: An article whose body carries this never finishes (hang) or kills its worker (crash).
MARK = "【病理样本】"
#: An article whose body carries this takes ``SLOW_SECONDS`` to extract, then is extracted.
SLOW = "【长篇】"
SLOW_SECONDS = 0.3


def hang_on_marked(article: ArticleInput) -> ExtractionResult:
    """The real extractor, except that a marked article never finishes."""
    if MARK in article.body:
        time.sleep(3600)
    return extract(article)


def slow_or_hang_on_marked(article: ArticleInput) -> ExtractionResult:
    """As ``hang_on_marked``; an article marked slow takes a while, within any budget the
    tests give (so that a batch of them lasts longer than one budget)."""
    if SLOW in article.body:
        time.sleep(SLOW_SECONDS)
    return hang_on_marked(article)


def slow_warm_up_hang_on_marked(article: ArticleInput) -> ExtractionResult:
    """As ``hang_on_marked``, with a warm-up that takes a second: a replacement worker
    is visibly not ready for that long."""
    if article.body == WARM_UP.body:
        time.sleep(1.0)
    return hang_on_marked(article)


def crash_on_marked(article: ArticleInput) -> ExtractionResult:
    """The worker process dies (as under the OOM killer) on a marked article."""
    if MARK in article.body:
        os._exit(3)
    return extract(article)


def fail_on_marked(article: ArticleInput) -> ExtractionResult:
    if MARK in article.body:
        raise ValueError("unparseable page")
    return extract(article)


def never_warm(article: ArticleInput) -> ExtractionResult:
    time.sleep(3600)
    raise AssertionError("unreachable")


def gone(pid: int) -> bool:
    """No such process, or only its zombie (an orphan waiting for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"
