"""Tiling, in one place for every backend: frames too big for one call run as overlapping tiles.

Each tile is cut with a margin of the model's receptive radius on every side (clipped at the
frame's edges), and only its centre is kept. Inside the frame a tile's margin holds the real
neighbouring pixels, at the frame's edges the tile's edge is the frame's edge (same zero padding),
so every kept output pixel sees exactly the input it sees untiled: the stitched frame equals the
untiled one (bit for bit where the backend's kernels do not depend on the input size, as
ONNX Runtime's and torch's CPU convolutions do not).

On :class:`~vsr.backends.base.OutOfMemory` the tile area is halved and the batch retried, and
later batches keep the smaller tile; a frame is never dropped.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .base import OutOfMemory, check_batch, output_for

# Below this many pixels per call, halving further only multiplies per-call overhead and margins.
MIN_TILE_PIXELS = 64 * 64
# Activation memory a CPU runner may use per call; beyond it frames are tiled (8K input, MSRN 4K).
CPU_MEMORY_BUDGET = 2 << 30


def cpu_tile_limit(bytes_per_pixel: int) -> int:
    """LR pixels per call a CPU runner may take when one pixel needs ``bytes_per_pixel`` of
    activations: :data:`CPU_MEMORY_BUDGET`, or a quarter of the memory available if that is less."""
    budget = min(CPU_MEMORY_BUDGET, _available_ram() // 4)
    return max(1, budget // bytes_per_pixel)


def _available_ram() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def plan_tiles(height: int, width: int, radius: int, max_pixels: int) -> list[tuple[int, int, int, int]]:
    """Tile centres ``(y0, y1, x0, x1)`` covering the frame, each with its margin <= max_pixels.

    The fewest tiles wins; among equal counts, the one whose tiles are closest to square.
    """
    best = None
    for rows in range(1, height + 1):
        if best is not None and rows > best[0][0]:
            break
        core_h = math.ceil(height / rows)
        tile_h = height if rows == 1 else min(height, core_h + 2 * radius)
        room = max_pixels // tile_h
        if room >= width:
            cols = 1
        elif room - 2 * radius < 1:
            continue
        else:
            cols = math.ceil(width / (room - 2 * radius))
        core_w = math.ceil(width / cols)
        score = (rows * cols, abs(math.log(core_h / core_w)))
        if best is None or score < best[0]:
            best = (score, rows, cols)
    if best is None:
        raise ConfigError(f"a {width}x{height} frame cannot be tiled into {max_pixels} pixels with a margin of {radius}")
    _, rows, cols = best
    ys = even_splits(height, rows)
    xs = even_splits(width, cols)
    return [(y0, y1, x0, x1) for y0, y1 in ys for x0, x1 in xs]


def even_splits(length: int, parts: int) -> list[tuple[int, int]]:
    """``length`` cut into ``parts`` (start, end) ranges as even as can be (empty ones dropped)."""
    edges = [round(i * length / parts) for i in range(parts + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:]) if b > a]


def with_margin(tile: tuple[int, int, int, int], radius: int, height: int, width: int) -> tuple[int, int, int, int]:
    """The tile ``(y0, y1, x0, x1)`` grown by ``radius`` on every side, clipped to the frame."""
    y0, y1, x0, x1 = tile
    return max(0, y0 - radius), min(height, y1 + radius), max(0, x0 - radius), min(width, x1 + radius)


class ScratchBuffers:
    """Output buffers for tiles, kept by shape: tiles come in a handful of shapes (inner, right,
    bottom, corner), and reusing their buffers saves touching fresh memory for every tile."""

    def __init__(self, keep: int = 16):
        self.keep = keep
        self._buffers: dict[tuple[int, int, int], np.ndarray] = {}

    def get(self, shape: tuple[int, int, int]) -> np.ndarray:
        buffer = self._buffers.get(shape)
        if buffer is None:
            if len(self._buffers) > self.keep:
                self._buffers.clear()
            buffer = self._buffers[shape] = np.empty(shape, np.float32)
        return buffer

    def clear(self) -> None:
        self._buffers.clear()


def run_tile(runner, frames: np.ndarray, out: np.ndarray, tile: tuple[int, int, int, int], radius: int, scratch: ScratchBuffers) -> None:
    """One tile of ``frames`` into ``out``: run with its margin (real neighbouring pixels inside
    the frame, the frame's own edge outside), keep the centre."""
    n, h, w = frames.shape
    s = runner.scale
    y0, y1, x0, x1 = tile
    ya, yb, xa, xb = with_margin(tile, radius, h, w)
    part = np.ascontiguousarray(frames[:, ya:yb, xa:xb])
    result = runner.run(part, out=scratch.get((n, s * (yb - ya), s * (xb - xa))))
    out[:, s * y0 : s * y1, s * x0 : s * x1] = result[:, s * (y0 - ya) : s * (y1 - ya), s * (x0 - xa) : s * (x1 - xa)]


class TiledRunner:
    """Wraps a backend's runner: splits batches and frames to fit ``max_pixels`` per call.

    ``max_pixels`` counts LR pixels of one call (frames x height x width, margins included); the
    inner runner's ``accepts(shape)`` may refuse more (a TensorRT profile), and an out-of-memory
    halves it. ``stats()`` adds ``tiled_frames``, ``oom_retries`` and the current ``tile_pixels``
    to the inner runner's counters.
    """

    def __init__(self, inner, radius: int, max_pixels: int, min_pixels: int = MIN_TILE_PIXELS):
        self.inner = inner
        self.radius = radius
        self.max_pixels = max(int(max_pixels), 1)
        self.min_pixels = min_pixels
        self.name, self.device, self.precision, self.scale = inner.name, inner.device, inner.precision, inner.scale
        self.tiled_frames = 0
        self.oom_retries = 0
        self._scratch = ScratchBuffers()

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        return True

    def stats(self) -> dict:
        inner = self.inner.stats() if hasattr(self.inner, "stats") else {}
        return {**inner, "tiled_frames": self.tiled_frames, "oom_retries": self.oom_retries, "tile_pixels": self.max_pixels}

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        while True:
            try:
                self._run(batch, out)
                return out
            except OutOfMemory as exc:
                smaller = self.max_pixels // 2
                if smaller < self.min_pixels:
                    raise ConfigError(f"the {self.name} backend on {self.device} is out of memory even for {self.max_pixels}-pixel tiles ({exc})") from None
                self.max_pixels = smaller
                self.oom_retries += 1
                self._scratch.clear()

    def _accepts(self, shape: tuple[int, int, int]) -> bool:
        accepts = getattr(self.inner, "accepts", None)
        return accepts is None or accepts(shape)

    def _frames_per_call(self, n: int, h: int, w: int) -> int:
        k = max(1, min(n, self.max_pixels // (h * w)))
        while k > 1 and not self._accepts((k, h, w)):
            k //= 2
        return k

    def _run(self, batch: np.ndarray, out: np.ndarray) -> None:
        n, h, w = batch.shape
        if h * w <= self.max_pixels and self._accepts((1, h, w)):
            k = self._frames_per_call(n, h, w)
            for i in range(0, n, k):
                self.inner.run(batch[i : i + k], out=out[i : i + k])
            return
        for tile in self._plan(h, w):
            ya, yb, xa, xb = with_margin(tile, self.radius, h, w)
            k = self._frames_per_call(n, yb - ya, xb - xa)
            for i in range(0, n, k):
                run_tile(self.inner, batch[i : i + k], out[i : i + k], tile, self.radius, self._scratch)
        self.tiled_frames += n

    def _plan(self, h: int, w: int) -> list[tuple[int, int, int, int]]:
        limit = self.max_pixels
        while True:
            tiles = plan_tiles(h, w, self.radius, limit)
            margins = (with_margin(tile, self.radius, h, w) for tile in tiles)
            shapes = {(1, yb - ya, xb - xa) for ya, yb, xa, xb in margins}
            if all(self._accepts(shape) for shape in shapes):
                return tiles
            if limit < 2 * self.min_pixels:
                raise ConfigError(f"the {self.name} runner accepts no tile of a {w}x{h} frame")
            limit //= 2
