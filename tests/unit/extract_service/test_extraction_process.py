"""The extraction worker process: honest readiness, replacement when it overruns or dies,
and no worker left behind when the service is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.common.errors import PoisonError, RetryableError
from services.extract.adapters.isolation import ArticleOverBudget, ExtractFn, ExtractionProcess
from services.extract.extraction import ArticleInput
from tests.unit.extract_service.extractors import (
    MARK,
    SLOW,
    SLOW_SECONDS,
    crash_on_marked,
    fail_on_marked,
    gone,
    hang_on_marked,
    never_warm,
    slow_or_hang_on_marked,
    slow_warm_up_hang_on_marked,
)

REPO = Path(__file__).resolve().parents[3]
FORMATION = ArticleInput(body="6月15日,桂林市中西医结合医院与灵川县中医医院建立紧密型医联体。")
MARKED = ArticleInput(body=MARK + FORMATION.body)
SLOWLY = ArticleInput(body=SLOW + FORMATION.body)


@pytest.fixture
async def stopped_at_end() -> AsyncIterator[list[ExtractionProcess]]:
    made: list[ExtractionProcess] = []
    yield made
    for extraction in made:
        await extraction.stop()


async def ready_worker(
    stopped_at_end: list[ExtractionProcess], fn: ExtractFn, **options: Any
) -> ExtractionProcess:
    """An extraction process of ``fn``, started and ready, stopped at the test's end."""
    extraction = ExtractionProcess(fn, **options)
    stopped_at_end.append(extraction)
    await extraction.start()
    await until_ready(extraction)
    return extraction


async def until_ready(extraction: ExtractionProcess, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await extraction.ready():
        assert time.monotonic() < deadline, "the worker never became ready"
        await asyncio.sleep(0.05)


async def until_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not gone(pid):
        assert time.monotonic() < deadline, f"process {pid} still runs"
        await asyncio.sleep(0.05)


async def test_ready_once_warm_and_no_longer_once_stopped(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = ExtractionProcess(hang_on_marked)
    stopped_at_end.append(extraction)
    assert not await extraction.ready(), "not started yet"
    await extraction.start()
    await until_ready(extraction)
    result = await extraction.extract(FORMATION)
    assert [m.name for e in result.events for m in e.lead] == ["桂林市中西医结合医院"]
    pid = extraction.worker_pid
    assert pid is not None and pid != os.getpid()
    await extraction.stop()
    assert not await extraction.ready()
    await until_gone(pid)
    with pytest.raises(RetryableError, match="stopped"):
        await extraction.extract(FORMATION)


async def test_an_overrunning_worker_is_killed_and_its_successor_is_ready_once_warm(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, slow_warm_up_hang_on_marked, budget_seconds=0.5)
    first = extraction.worker_pid
    assert first is not None
    started = time.monotonic()
    with pytest.raises(ArticleOverBudget) as raised:
        await extraction.extract(MARKED)
    assert 0.5 <= time.monotonic() - started < 5
    assert raised.value.reason == "budget_exceeded"
    await until_gone(first)
    # The successor warms up for a second: not ready meanwhile, then ready.
    assert not await extraction.ready()
    await until_ready(extraction)
    assert extraction.worker_pid not in (None, first)
    result = await extraction.extract(FORMATION)
    assert result.relevant


async def test_the_extractors_own_error_is_poison_and_the_worker_carries_on(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, fail_on_marked)
    pid = extraction.worker_pid
    with pytest.raises(PoisonError) as raised:
        await extraction.extract(MARKED)
    assert not isinstance(raised.value, ArticleOverBudget)
    assert raised.value.reason == "poison"
    assert "ValueError: unparseable page (at extractors.py:" in str(raised.value)
    assert (await extraction.extract(FORMATION)).relevant
    assert extraction.worker_pid == pid


async def test_a_worker_that_dies_under_an_article_is_replaced_and_the_article_retryable(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, crash_on_marked)
    first = extraction.worker_pid
    with pytest.raises(RetryableError, match="exit code 3"):
        await extraction.extract(MARKED)
    assert (await extraction.extract(FORMATION)).relevant
    assert extraction.worker_pid != first


async def test_a_batch_longer_than_the_budget_passes_when_each_article_is_within_it(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    budget = 2 * SLOW_SECONDS
    extraction = await ready_worker(stopped_at_end, slow_or_hang_on_marked, budget_seconds=budget)
    pid = extraction.worker_pid
    batch = asyncio.ensure_future(extraction.extract_all([SLOWLY] * 8))
    await asyncio.sleep(budget + 0.2)
    assert await extraction.ready(), "a worker busy with articles within budget is ready"
    done = await batch
    assert done.failure is None
    assert [r.relevant for r in done.results] == [True] * 8
    assert len(done.times) == 8
    assert all(start < end for start, end in done.times)
    assert all(a[1] <= b[0] for a, b in zip(done.times, done.times[1:], strict=False))
    assert extraction.worker_pid == pid


async def test_in_a_batch_the_article_over_budget_fails_alone_within_its_own_budget(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, slow_or_hang_on_marked, budget_seconds=1.0)
    first = extraction.worker_pid
    started = time.monotonic()
    done = await extraction.extract_all([SLOWLY, SLOWLY, MARKED, FORMATION])
    # The two before it, then one budget for the hanging article; not the batch's 4 budgets.
    assert 1.0 + 2 * SLOW_SECONDS <= time.monotonic() - started < 1.0 + 2 * SLOW_SECONDS + 2
    assert len(done.results) == 2
    assert isinstance(done.failure, ArticleOverBudget)
    assert "budget" in str(done.failure)
    assert first is not None
    await until_gone(first)
    # The articles behind it were left; the next worker takes them.
    await until_ready(extraction)
    after = await extraction.extract_all([FORMATION])
    assert after.failure is None and after.results[0].relevant
    assert extraction.worker_pid != first


async def test_in_a_batch_the_extractors_error_stops_it_and_the_worker_carries_on(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, fail_on_marked)
    pid = extraction.worker_pid
    done = await extraction.extract_all([FORMATION, MARKED, FORMATION])
    assert len(done.results) == 1
    assert isinstance(done.failure, PoisonError)
    assert not isinstance(done.failure, ArticleOverBudget)
    # The worker left the rest of that batch: the next batch's answers are its own.
    again = await extraction.extract_all([FORMATION, FORMATION])
    assert again.failure is None and len(again.results) == 2
    assert extraction.worker_pid == pid


async def test_in_a_batch_a_worker_dying_keeps_the_results_before_and_is_replaced(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, crash_on_marked)
    first = extraction.worker_pid
    done = await extraction.extract_all([FORMATION, FORMATION, MARKED, FORMATION])
    assert len(done.results) == 2
    assert isinstance(done.failure, RetryableError)
    assert "exit code 3" in str(done.failure)
    assert (await extraction.extract(FORMATION)).relevant
    assert extraction.worker_pid != first


async def test_a_worker_killed_while_idle_is_replaced_without_waiting_for_an_article(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = await ready_worker(stopped_at_end, hang_on_marked)
    first = extraction.worker_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await until_gone(first)
    assert not await extraction.ready()
    await until_ready(extraction)
    assert extraction.worker_pid != first


async def test_a_worker_that_never_warms_up_is_never_ready(
    stopped_at_end: list[ExtractionProcess],
) -> None:
    extraction = ExtractionProcess(never_warm, start_timeout_seconds=1.0)
    stopped_at_end.append(extraction)
    await extraction.start()
    started = time.monotonic()
    with pytest.raises(RetryableError, match="not warm after 1 s"):
        await extraction.extract(FORMATION)
    assert time.monotonic() - started < 10
    for _ in range(10):
        assert not await extraction.ready()
        await asyncio.sleep(0.1)


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ExtractionProcess(budget_seconds=0)


_KILLED_SERVICE = """
import asyncio
from services.extract.extraction import ArticleInput
from services.extract.adapters.isolation import ExtractionProcess
from tests.unit.extract_service.extractors import MARK, hang_on_marked

async def main() -> None:
    extraction = ExtractionProcess(hang_on_marked, budget_seconds=600)
    await extraction.start()
    while not await extraction.ready():
        await asyncio.sleep(0.05)
    print(extraction.worker_pid, flush=True)
    await extraction.extract(ArticleInput(body=MARK))

asyncio.run(main())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
async def test_a_service_killed_mid_article_leaves_no_worker_spinning() -> None:
    service = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SERVICE], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert service.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(service.stdout.readline), 30)
        worker = int(line)
        await asyncio.sleep(0.5)  # the worker is inside the hanging article now
        assert not gone(worker)
    finally:
        service.kill()
        service.wait(10)
    await until_gone(worker)
