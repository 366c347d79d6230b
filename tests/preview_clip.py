"""A small, brightly coloured test clip for the preview tests, written with PyAV."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

# Saturated green with a magenta square that moves: easy to find again in a screenshot.
GREEN = (30, 220, 40)
MAGENTA = (220, 30, 200)


def clip_frame(i: int, width: int, height: int) -> np.ndarray:
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[...] = GREEN
    side = max(height // 3, 2)
    x = (i * 2) % max(width - side, 1)
    rgb[height // 3 : height // 3 + side, x : x + side] = MAGENTA
    return rgb


def make_clip(path: Path, width: int = 64, height: int = 48, frames: int = 30, fps: int = 30) -> Path:
    """An FFV1 clip of ``frames`` pictures at ``fps``."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(clip_frame(i, width, height), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
