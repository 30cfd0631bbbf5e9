"""One registry transaction: the unit of work the use cases write through.

Every write is one database transaction that also appends the resulting changes to the
outbox, so a change is published if and only if it was committed. Writers are serialised:
in-process by a lock, across replicas by a PostgreSQL advisory lock held for the
transaction, so concurrent consumers cannot found the same alliance twice. Leaving the
``with`` block without ``commit()`` writes nothing.
"""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy import Engine, text
from sqlmodel import Session

from services.registry.adapters.repository import RegistryStore
from services.registry.adapters.review_store import ReviewStore

_WRITE_LOCK_KEY = 0x72656772  # "regr"


class UnitOfWork:
    def __init__(self, engine: Engine, lock: threading.Lock) -> None:
        self.engine = engine
        self._lock = lock
        self._session: Session | None = None
        self.store: RegistryStore  # the tables, as this transaction sees them
        self.reviews: ReviewStore  # analysts and their actions, in the same transaction

    def __enter__(self) -> UnitOfWork:
        self._lock.acquire()
        try:
            self._session = Session(self.engine)
            self.store = RegistryStore(self._session)
            self.reviews = ReviewStore(self._session, self.store)
            if self.engine.dialect.name == "postgresql":
                self._session.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY}
                )
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._close()

    def commit(self) -> None:
        assert self._session is not None
        self._session.commit()

    def refresh(self, row: object) -> None:
        assert self._session is not None
        self._session.refresh(row)

    def _close(self) -> None:
        try:
            if self._session is not None:
                self._session.close()  # rolls back whatever was not committed
        finally:
            self._session = None
            self._lock.release()
