"""The reduced-precision guard: a frame whose fp16/bf16 output is not finite is redone in fp32.

fp16 overflows at 65504; a trained model never gets there on [0, 1] input, but a fine-tuned or
badly quantised one can, and a NaN written out becomes a black or garbage frame. The check costs
one reduction per frame; a failing frame is recomputed by an fp32 runner of the same model on the
same device (built on first need), and counted, so the user hears about it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .base import check_batch, output_for


def finite_frames(out: np.ndarray) -> np.ndarray:
    """(N,) bool: which frames of an (N, H, W) float32 batch hold only finite values.

    A sum is NaN or infinite exactly when some term is (the terms are bounded far below float32's
    range), and it needs no temporary the size of the batch, unlike ``np.isfinite(out)``.
    """
    return np.isfinite(out.reshape(len(out), -1).sum(axis=1))


class NonFiniteGuard:
    """Wraps a reduced-precision runner; ``fp32_recomputed_frames`` counts the frames it redid.

    An inner runner that can tell finite frames more cheaply (on the GPU, before the copy back)
    provides ``run_with_finite_flags(batch, out) -> (out, finite)``.
    """

    def __init__(self, inner, fp32_runner: Callable[[], object]):
        self.inner = inner
        self._make_fp32 = fp32_runner
        self._fp32 = None
        self.name, self.device, self.precision, self.scale = inner.name, inner.device, inner.precision, inner.scale
        self.fp32_recomputed_frames = 0

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        accepts = getattr(self.inner, "accepts", None)
        return accepts is None or accepts(shape)

    def stats(self) -> dict:
        inner = self.inner.stats() if hasattr(self.inner, "stats") else {}
        return {**inner, "fp32_recomputed_frames": self.fp32_recomputed_frames}

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        if hasattr(self.inner, "run_with_finite_flags"):
            out, finite = self.inner.run_with_finite_flags(batch, out)
        else:
            out = self.inner.run(batch, out=out)
            finite = finite_frames(out)
        for i in np.flatnonzero(~finite):
            if self._fp32 is None:
                self._fp32 = self._make_fp32()
            self._fp32.run(batch[i : i + 1], out=out[i : i + 1])
            self.fp32_recomputed_frames += 1
        return out
