"""The part every runner of an exported ONNX graph file shares.

ONNX Runtime's session and OpenVINO's compiled model each take the whole batch in one call and
write the result in place into the caller's array; each runtime says "out of memory" in its own
words. A runtime's runner supplies ``_infer`` and those words; the batch checks, the output array
and the :class:`OutOfMemory` signal (on which the tiler retries in smaller tiles) live here.

Imports neither torch nor a runtime: a run from a cached graph builds these runners without them.
"""
from __future__ import annotations

import numpy as np

from .base import OutOfMemory, check_batch, first_line, output_for


class GraphFileRunner:
    """A runner over the graph at ``onnx_path`` (``cache_hit``: found in the cache, not exported)."""

    # Lower-case words by which the runtime's errors say it ran out of memory.
    out_of_memory_words: tuple[str, ...] = ()

    def __init__(self, scale: int, path, cache_hit: bool, backend):
        self.backend = backend
        self.name = backend.name
        self.device = backend.device
        self.scale = scale
        self.onnx_path = path
        self.cache_hit = cache_hit

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        return True

    def stats(self) -> dict:
        return {}

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        try:
            self._infer(batch, out)
        except Exception as exc:  # each runtime raises its own exception types
            message = str(exc).lower()
            if any(word in message for word in self.out_of_memory_words):
                raise OutOfMemory(first_line(exc)) from None
            raise
        return out

    def _infer(self, batch: np.ndarray, out: np.ndarray) -> None:
        """Compute ``batch`` (N, H, W) into ``out`` (N, sH, sW), both C-contiguous float32."""
        raise NotImplementedError
