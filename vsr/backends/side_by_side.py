"""Side-by-side workers: one single-threaded runner per core, each on its own frames or strip.

A runtime that splits every operator across its threads makes them meet at a barrier after each
operator. Beside a video encoder on the same cores, a thread the OS puts aside for the encoder
stalls its partner at every barrier. Independent single-threaded workers have no barrier: each
goes on with its own frames while the other waits for a core. A batch whose frames share out
evenly is shared out frame by frame; any other batch (a single frame, say) is cut into horizontal
strips with a margin of the receptive radius, as :mod:`.tiling` cuts tiles, so the result is the
same.
"""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from .base import check_batch, output_for
from .tiling import ScratchBuffers, even_splits, run_tile


class SideBySideRunner:
    """Runs ``workers`` (runners of one model, one thread each) concurrently on parts of a batch.

    The workers must release the GIL while they compute, as ONNX Runtime's sessions do.
    """

    def __init__(self, workers: list, radius: int):
        if len(workers) < 2:
            raise ValueError("side-by-side running needs at least two workers")
        self.workers = list(workers)
        self.radius = radius
        first = self.workers[0]
        self.name, self.device, self.precision, self.scale = first.name, first.device, first.precision, first.scale
        self._scratch = [ScratchBuffers(keep=4) for _ in self.workers]  # one per worker thread

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        return all(getattr(w, "accepts", lambda _: True)(shape) for w in self.workers)

    def stats(self) -> dict:
        return {}

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        n, h, w = batch.shape
        if n % len(self.workers) == 0:  # whole frames, evenly; otherwise strips keep the workers even
            parts = zip(self.workers, even_splits(n, len(self.workers)))
            _together([lambda worker=worker, a=a, b=b: worker.run(batch[a:b], out[a:b]) for worker, (a, b) in parts])
            return out
        strips = even_splits(h, len(self.workers))
        if len(strips) < 2:  # fewer rows than workers: nothing to share
            return self.workers[0].run(batch, out)
        # Each strip is a full-width tile: its margin rows are real context, as in tiling.
        _together([lambda worker=worker, scratch=scratch, tile=(y0, y1, 0, w): run_tile(worker, batch, out, tile, self.radius, scratch)
                   for worker, scratch, (y0, y1) in zip(self.workers, self._scratch, strips)])
        return out


def _together(jobs: list[Callable[[], object]]) -> None:
    """Run ``jobs`` at once: the first in this thread, the others in threads of their own; re-raise
    the first error (an OutOfMemory reaches the tiler this way).

    The threads are daemons started per call (tens of microseconds against a frame's milliseconds)
    rather than a pool: a pool's idle threads are joined at exit, and an interpreter interrupted by
    Ctrl-C while waiting on them could hang there instead of exiting.
    """
    errors: list[BaseException | None] = [None] * len(jobs)

    def call(index: int) -> None:
        try:
            jobs[index]()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            errors[index] = exc

    threads = [threading.Thread(target=call, args=(i,), name=f"vsr-sr-{i}", daemon=True) for i in range(1, len(jobs))]
    for thread in threads:
        thread.start()
    call(0)
    for thread in threads:
        thread.join()
    for error in errors:
        if error is not None:
            raise error
