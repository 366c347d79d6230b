"""``auto``'s fallback: the first of several candidate runners that builds and runs its first batch.

Torch-free, like the runners it holds, so that a run that never needs torch (:mod:`.cached_start`)
gets the same fallback as one that does (:func:`.selection.build_runner`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import ConfigError
from ..notices import print_warning
from .base import check_batch, first_line, output_for


@dataclass(frozen=True)
class Candidate:
    """One backend ``auto`` may use: what to call it in a warning, and how to build its runner."""

    description: str
    build: Callable[[], object]


class FallbackRunner:
    """The automatic choice: the first candidate that builds *and* runs its first batch.

    Some failures only show on the first call (TensorRT builds or loads its engine for the first
    frame size there; a GPU runtime may fail its first kernel launch), so the first call is part of
    the trial: if it raises, the next candidate takes over and redoes the batch. Each switch gives
    ``warn`` (default: a line on stderr) one line naming what failed and what is used instead.
    """

    def __init__(self, candidates: list[Candidate], scale: int, warn=None):
        self._warn = warn or print_warning
        self._candidates = list(candidates)
        self._scale = scale
        self._proven = False
        self.candidate = None
        self.current = None
        self._advance([])

    def _advance(self, failures: list[str]) -> None:
        while self._candidates:
            candidate = self._candidates.pop(0)
            try:
                self.current = candidate.build()
            except Exception as exc:
                failures.append(f"{candidate.description} failed ({first_line(exc, 160)})")
                continue
            self.candidate = candidate
            if failures:
                self._warn(f"{'; '.join(failures)}; using {candidate.description}")
            return
        raise ConfigError(f"no backend could start: {'; '.join(failures)}")

    name = property(lambda self: self.current.name)
    device = property(lambda self: self.current.device)
    precision = property(lambda self: self.current.precision)
    scale = property(lambda self: self.current.scale)

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        return True

    def stats(self) -> dict:
        return self.current.stats()

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if self._proven:
            return self.current.run(batch, out=out)
        batch = check_batch(batch)  # bad input is the caller's problem, not the backend's
        output_for(batch, self._scale, out)
        while True:
            try:
                result = self.current.run(batch, out=out)
            except Exception as exc:
                if not self._candidates:
                    raise
                self._advance([f"{self.candidate.description} failed on its first frames ({first_line(exc, 160)})"])
                continue
            self._proven = True
            return result
