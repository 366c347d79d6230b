"""The interface every backend implements.

A *backend* is a small frozen dataclass of the knobs that matter (device, precision, threads); its
``build(model)`` returns a *runner* that turns a batch of luma planes into upscaled planes. Callers
(image, video, eval, bench) only ever see runners.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np


class Runner(Protocol):
    """A model made ready on one device.

    ``run`` takes (N, H, W) float32 luma in [0, 1] (8- or 10-bit code values already divided by
    their maximum) and returns (N, s*H, s*W) float32, not clipped.
    """

    name: str
    device: str
    precision: str
    scale: int

    def run(self, batch: np.ndarray) -> np.ndarray: ...


def check_batch(batch: np.ndarray) -> np.ndarray:
    """Validate and normalise a batch to contiguous float32 (N, H, W)."""
    if batch.ndim == 2:
        batch = batch[None]
    if batch.ndim != 3:
        raise ValueError(f"a batch of luma planes is (N, H, W); got shape {batch.shape}")
    return np.ascontiguousarray(batch, dtype=np.float32)
