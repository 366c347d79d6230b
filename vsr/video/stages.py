"""Per-stage timing of the video pipeline, so a benchmark can say where the time goes.

The pipeline runs its stages in parallel threads; each stage adds the seconds it spent working
(not waiting on a queue) to its own counter. The counters are written by one thread each, so they
need no lock. Stage seconds overlap in wall time: ``frames / seconds[stage]`` is the throughput a
stage alone would reach, and the slowest one bounds the end-to-end fps.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

#: Stage names, in the order a frame goes through them.
STAGES = ("decode", "to_tensor", "sr", "to_frame", "encode")

_DOC = {
    "decode": "demux and decode (PyAV)",
    "to_tensor": "frame planes -> float luma for the model, chroma as floats",
    "sr": "model on the luma batch (the runner)",
    "to_frame": "model output -> code values, chroma upscaling, new VideoFrame",
    "encode": "encode and mux, including the copied audio/subtitle packets",
}


@dataclass
class StageTimes:
    """Seconds spent in each stage (see :data:`STAGES`), frames done and the job's wall time."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    wall_s: float = 0.0

    @contextmanager
    def measure(self, stage: str):
        """Add the time spent inside the ``with`` block to ``stage``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start

    def fps(self, stage: str | None = None) -> float:
        """Frames per second end to end (``stage=None``) or of one stage alone."""
        seconds = self.wall_s if stage is None else self.seconds[stage]
        return self.frames / seconds if seconds > 0 else float("nan")

    def as_dict(self) -> dict:
        """Plain JSON-ready numbers: frames, wall seconds, end-to-end fps, per-stage ms/frame and fps."""
        per_frame = {s: (1000.0 * self.seconds[s] / self.frames if self.frames else None) for s in STAGES}
        return {
            "frames": self.frames,
            "wall_s": self.wall_s,
            "fps": self.fps() if self.frames else None,
            "stage_s": dict(self.seconds),
            "stage_ms_per_frame": per_frame,
            "stage_fps": {s: (self.fps(s) if self.frames and self.seconds[s] > 0 else None) for s in STAGES},
            "stage_meaning": dict(_DOC),
        }
