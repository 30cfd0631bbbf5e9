"""Extraction in a worker process, within a time budget per article.

A thread cannot be stopped in Python, so one pathological article (a long text without
punctuation) would hold its partition, and every article behind it, for as long as the
extractor takes. Here extraction runs in a child process, one article at a time; when an
article overruns the budget its worker is killed and replaced, and the article is
dead-lettered with the reason ``budget_exceeded``.

A partition's articles go to the worker in one message (``extract_all``): the worker
answers each as it finishes it, and each answer must come within the budget of the one
before, so the budget stays per article (an overrun is noticed one budget after the
article started) while the service pays one pipe message and one thread hop a batch, not
an article.

The child is started with ``spawn`` (forking a process that runs an event loop and Kafka
client threads is unsafe) and warms up before its first article, so that the budget
measures extraction, not imports. Start it from the event loop's thread: on Linux the
child is killed when the thread that started it ends (so a SIGKILLed service leaves no
worker spinning on alone).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from prometheus_client import Counter

from services.common.errors import PoisonError, RetryableError
from services.extract.extraction import ArticleInput, ExtractionResult, extract
from services.extract.service import Extractions

log = logging.getLogger(__name__)

ExtractFn = Callable[[ArticleInput], ExtractionResult]
#: What the worker answers: ("ready", None), ("ok", ExtractionResult) or ("error", text).
Outcome = tuple[str, Any]

DEFAULT_BUDGET_SECONDS = 10.0
DEFAULT_START_TIMEOUT_SECONDS = 60.0
#: How long a stopping worker may take to finish before it is killed.
STOP_GRACE_SECONDS = 5.0
#: Readiness tolerates an article this much past its budget (the kill takes a moment).
_READY_GRACE_SECONDS = 5.0
#: The team's own sentence (one traditional character for the t2s tables): it loads the
#: dictionaries and regexes before the first real article's budget starts to count.
WARM_UP = ArticleInput(body="3月5日,甲市人民醫院与乙县人民医院签约成立紧密型医联体。")

ARTICLES_OVER_BUDGET = Counter(
    "extract_articles_over_budget_total",
    "Articles whose extraction overran EXTRACT_ARTICLE_BUDGET_SECONDS (dead-lettered).",
)
WORKER_RESTARTS = Counter(
    "extract_worker_restarts_total",
    "Extraction worker processes replaced, by why (budget_exceeded, died).",
    ["reason"],
)
for _reason in ("budget_exceeded", "died"):
    WORKER_RESTARTS.labels(_reason)  # exported at zero, so increase() sees the first one


class ArticleOverBudget(PoisonError):
    """Extraction overran the article's time budget. The extractor is deterministic, so
    the article would overrun again: it goes to the dead-letter topic, not back."""

    reason = "budget_exceeded"


@dataclass
class _Answers:
    """What the worker answered to a batch of articles, in their order, each with when it
    started and finished (epoch ns), and how the exchange ended short of all of them: the
    next article overran, or the pipe broke (the worker died)."""

    outcomes: list[Outcome] = field(default_factory=list)
    times: list[tuple[int, int]] = field(default_factory=list)
    overran: bool = False
    broken: BaseException | None = None


class ExtractionProcess:
    """``extract_fn`` in a child process, one article at a time, each within a budget."""

    def __init__(
        self,
        extract_fn: ExtractFn = extract,
        *,
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
        start_timeout_seconds: float = DEFAULT_START_TIMEOUT_SECONDS,
    ) -> None:
        if budget_seconds <= 0:
            raise ValueError(f"the budget must be positive, not {budget_seconds}")
        self.budget_seconds = budget_seconds
        self._extract_fn = extract_fn
        self._start_timeout = start_timeout_seconds
        self._context = multiprocessing.get_context("spawn")
        self._worker: _Worker | None = None
        self._lock = asyncio.Lock()  # one batch at a time through the one pipe
        self._retiring: set[asyncio.Task[None]] = set()
        self._stopped = False

    @property
    def worker_pid(self) -> int | None:
        return self._worker.process.pid if self._worker is not None else None

    async def start(self) -> None:
        """Start the worker; it warms up in the background (``ready`` tells when)."""
        self._current_worker()

    async def ready(self) -> bool:
        """A warm, live worker that is not overrunning. A worker found dead while idle is
        replaced here, so the service becomes ready again without waiting for an article."""
        if self._stopped:
            return False
        worker = self._worker
        if worker is None or (not self._lock.locked() and worker.replaceable()):
            self._current_worker()
            return False
        if not worker.warm() or not worker.process.is_alive():
            return False
        busy = worker.busy_since
        return busy is None or time.monotonic() - busy <= self.budget_seconds + _READY_GRACE_SECONDS

    async def extract(self, article: ArticleInput) -> ExtractionResult:
        """The article's extraction result.

        Raises ``ArticleOverBudget`` when extraction overruns (the worker is replaced),
        ``PoisonError`` when the extractor fails on the article, ``RetryableError`` when no
        worker can be started or the worker died under the article (killed from outside,
        out of memory): that may pass, so the article is tried again.
        """
        done = await self.extract_all([article])
        if done.failure is not None:
            raise done.failure
        return done.results[0]

    async def extract_all(self, articles: Sequence[ArticleInput]) -> Extractions:
        """The articles' results in their order, up to the first that failed; its failure
        is returned (the exceptions ``extract`` raises), the articles behind it are left.
        Raises ``RetryableError`` only when no worker can be started."""
        if not articles:
            return Extractions()
        async with self._lock:
            worker = self._current_worker()
            # Shielded: a cancelled handler must not cancel the warm-up other articles need.
            await asyncio.shield(worker.warming)
            exchange = asyncio.ensure_future(
                asyncio.to_thread(_exchange, worker, list(articles), self.budget_seconds)
            )
            worker.exchange = exchange
            try:
                answers = await asyncio.shield(exchange)
            except asyncio.CancelledError:
                # The answers are no longer wanted, and a worker still busy with them cannot
                # take the next batch: kill it (its thread then sees the end of the pipe).
                worker.process.kill()
                self._retire_later(worker)
                raise
            worker.exchange = None
            return await self._settle(worker, articles, answers)

    async def _settle(
        self, worker: _Worker, articles: Sequence[ArticleInput], answers: _Answers
    ) -> Extractions:
        """The batch's results, and the failure of the article they stop at (its worker
        replaced when it overran or died under it)."""
        done = Extractions()
        for (kind, payload), times in zip(answers.outcomes, answers.times, strict=True):
            if kind == "error":
                # The extractor is deterministic: what fails once fails every time.
                done.failure = PoisonError(f"extraction failed: {payload}")
                return done
            done.results.append(payload)
            done.times.append(times)
        if answers.overran:
            ARTICLES_OVER_BUDGET.inc()
            await self._replace(worker, "budget_exceeded")
            done.failure = ArticleOverBudget(
                f"extraction overran its {self.budget_seconds:g} s budget "
                f"({len(articles[len(done.results)].body)} characters); "
                "its worker was killed and replaced"
            )
        elif answers.broken is not None:
            if self._stopped:
                done.failure = RetryableError("the extraction worker was stopped")
            else:
                await self._replace(worker, "died")
                done.failure = RetryableError(
                    "extraction worker died under the article "
                    f"(exit code {worker.process.exitcode})"
                )
            done.failure.__cause__ = answers.broken
        return done

    async def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Let the worker finish and exit (killed after ``grace_seconds``); no restart."""
        self._stopped = True
        worker, self._worker = self._worker, None
        if worker is not None:
            if worker.warm() and worker.exchange is None:
                try:
                    worker.conn.send(None)  # idle: ask it to exit
                except OSError as exc:
                    log.info("extraction worker %s already gone: %s", worker.process.pid, exc)
            else:
                worker.process.kill()
            await worker.retire(grace_seconds)
        if self._retiring:
            await asyncio.gather(*self._retiring)

    def _current_worker(self) -> _Worker:
        """The worker to use, launching a new one when there is none or it is gone."""
        if self._stopped:
            raise RetryableError("the extraction worker is stopped")
        worker = self._worker
        if worker is not None and worker.replaceable():
            self._retire_later(worker)
            WORKER_RESTARTS.labels("died").inc()
            log.warning("extraction worker %s is gone; starting another", worker.process.pid)
            worker = None
        if worker is None:
            worker = _Worker(self._context, self._extract_fn, self._start_timeout)
            self._worker = worker
        return worker

    async def _replace(self, worker: _Worker, reason: str) -> None:
        """Kill ``worker`` (no thread is talking to it now) and launch its successor."""
        WORKER_RESTARTS.labels(reason).inc()
        log.warning("extraction worker %s replaced (%s)", worker.process.pid, reason)
        worker.process.kill()
        if self._worker is worker:
            self._worker = None
        await worker.retire(0)
        if not self._stopped:
            self._current_worker()

    def _retire_later(self, worker: _Worker) -> None:
        if self._worker is worker:
            self._worker = None
        task = asyncio.create_task(worker.retire(0), name="extract-worker-retire")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)


class _Worker:
    """One child process and the service's end of its pipe."""

    def __init__(
        self, context: multiprocessing.context.SpawnContext, extract_fn: ExtractFn, timeout: float
    ) -> None:
        parent_end, child_end = context.Pipe()
        self.process: SpawnProcess = context.Process(
            target=_serve,
            args=(child_end, extract_fn, os.getpid()),
            name="extract-worker",
            daemon=True,  # never outlives a service that exits
        )
        self.process.start()
        child_end.close()  # the child holds the only write end now: its death reads as EOF
        self.conn: Connection = parent_end
        self.exchange: asyncio.Future[_Answers] | None = None  # a thread on the pipe
        #: When the article in hand started (monotonic), None when idle; set by that thread.
        self.busy_since: float | None = None
        self.warming = asyncio.create_task(self._warm_up(timeout), name="extract-worker-warm-up")
        self._closed = False

    def warm(self) -> bool:
        return (
            self.warming.done()
            and not self.warming.cancelled()
            and self.warming.exception() is None
        )

    def replaceable(self) -> bool:
        """Dead, or failed to warm up, and no thread is talking to it any more."""
        if not self.warming.done() or self.exchange is not None:
            return False
        return not self.warm() or not self.process.is_alive()

    async def _warm_up(self, timeout: float) -> None:
        answered = await asyncio.to_thread(self.conn.poll, timeout)
        if not answered:
            self.process.kill()
            raise RetryableError(f"extraction worker not warm after {timeout:g} s")
        try:
            kind, detail = self.conn.recv()
        except EOFError as exc:
            await asyncio.to_thread(self.process.join, 5)
            raise RetryableError(
                f"extraction worker died while warming up (exit code {self.process.exitcode})"
            ) from exc
        if kind != "ready":
            raise RetryableError(f"extraction worker failed to warm up: {detail}")
        log.info("extraction worker %s ready", self.process.pid)

    async def retire(self, grace_seconds: float) -> None:
        """Wait up to ``grace_seconds`` for the child to exit, kill it if it has not, wait
        for the threads on the pipe to notice, then close the pipe."""
        if self._closed:
            return
        await asyncio.to_thread(self.process.join, grace_seconds)
        if self.process.is_alive():
            self.process.kill()
            await asyncio.to_thread(self.process.join, 5)
        if self.process.is_alive():
            log.error("extraction worker %s survived SIGKILL for 5 s", self.process.pid)
        for pending in (self.warming, self.exchange):
            if pending is not None:
                await asyncio.wait({pending})
                if not pending.cancelled() and pending.exception() is not None:
                    log.debug("retired worker %s: %s", self.process.pid, pending.exception())
        self._closed = True
        self.conn.close()


def _exchange(worker: _Worker, articles: list[ArticleInput], budget: float) -> _Answers:
    """Send the articles and collect the worker's answers, each within ``budget`` seconds
    of the one before, until all are in, one is an error, one overruns or the worker dies.
    Runs in a thread."""
    answers = _Answers()
    try:
        worker.busy_since = time.monotonic()
        worker.conn.send(articles)
        started = time.time_ns()
        for _ in articles:
            if not worker.conn.poll(budget):
                answers.overran = True
                return answers
            outcome: Outcome = worker.conn.recv()
            finished = time.time_ns()
            worker.busy_since = time.monotonic()
            answers.outcomes.append(outcome)
            answers.times.append((started, finished))
            started = finished
            if outcome[0] == "error":
                break  # the worker stops at it: the articles behind wait behind it
    except (EOFError, OSError) as exc:
        answers.broken = exc
    finally:
        worker.busy_since = None
    return answers


# --- the child process ----------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _serve(conn: Connection, extract_fn: ExtractFn, parent_pid: int) -> None:
    """The worker's main: extract what the service sends until told to stop or orphaned."""
    # The service decides when its worker ends (after the article in hand): Ctrl-C or a
    # SIGTERM sent to the whole process group must not kill it under the service's feet.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    try:
        extract_fn(WARM_UP)
    except Exception as exc:
        conn.send(("error", _describe(exc)))
        return
    conn.send(("ready", None))
    while True:
        try:
            articles = conn.recv()
        except EOFError:
            return  # the service closed its end, or died
        if articles is None:
            return
        for article in articles:
            try:
                if not _answer(conn, extract_fn, article):
                    break  # an error: the service stops the batch at it
            except BrokenPipeError:
                return  # the service is gone: nobody to answer


def _answer(conn: Connection, extract_fn: ExtractFn, article: ArticleInput) -> bool:
    """Extract one article and send its outcome; False when that is an error."""
    try:
        outcome: Outcome = ("ok", extract_fn(article))
    except Exception as exc:
        outcome = ("error", _describe(exc))
    try:
        conn.send(outcome)
    except BrokenPipeError:
        raise
    except Exception as exc:  # the result does not pickle; nothing was written yet
        conn.send(("error", f"result not transferable: {_describe(exc)}"))
        return False
    return outcome[0] == "ok"


def _die_with_parent(parent_pid: int) -> None:
    """A service SIGKILLed mid-article must not leave its worker spinning on alone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(0)  # orphaned before the line above took effect


def _describe(exc: BaseException) -> str:
    """``Type: message (at file:line)``, the innermost frame being the useful one."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
