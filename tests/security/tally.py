"""Counting a matrix of attempts: a test tries many inputs, prints ``N tried, F failed``
on the terminal (past pytest's capture) and fails unless F is 0, listing what failed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class Tally:
    label: str
    tried: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, what: str, problem: str | None) -> None:
        """Count one attempt; ``problem`` says what was wrong with its answer, if anything."""
        self.tried += 1
        if problem is not None:
            self.failures.append(f"{what}: {problem}")

    def report(self, capsys: pytest.CaptureFixture[str]) -> None:
        line = f"{self.label}: {self.tried} tried, {len(self.failures)} failed"
        with capsys.disabled():
            print(f"\n{line}")
        assert self.tried > 0, f"{self.label}: nothing was tried"
        assert not self.failures, "\n".join([line, *self.failures[:40]])
