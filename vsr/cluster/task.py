"""The work of one cluster task: super-resolve one segment into its part file.

Plain Python, no Ray: :mod:`vsr.cluster.ray_runner` runs :func:`run_segment` on a worker, and
it can as well run in this process. The task builds its runner from the plain settings (once per
worker process: a worker runs many segments), reads its segment straight from the source
(:class:`~vsr.cluster.segment_reader.SegmentReader`), and writes the part with the normal
pipeline, which renames it into place only when it is complete. It returns the part's frame
count, size and SHA-256 for the manifest, and any warning the pipeline had.
"""
from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..runner_spec import RunnerSpec
from .segment_reader import SegmentReader
from .segments import Segment
from ..files import sha256_file
from .settings import ClusterSettings

@dataclass(frozen=True)
class SegmentJob:
    """One task: segment ``segment`` of ``source`` (video number ``video`` of the run) into ``part``."""

    video: int
    source: str
    segment: Segment
    part: str
    variable_rate: bool
    settings: ClusterSettings

    @property
    def key(self) -> tuple[int, int]:
        return (self.video, self.segment.index)


@dataclass
class SegmentOutcome:
    """What a finished task reports: the part file's facts, its warnings, where and how long."""

    video: int
    index: int
    frames: int
    size: int
    sha256: str
    seconds: float
    host: str
    warnings: list[str] = field(default_factory=list)


@lru_cache(maxsize=2)
def _runner(spec: RunnerSpec):
    # A worker process runs many tasks of one run: the model is loaded once per spec.
    return spec.build()


def run_segment(job: SegmentJob, progress: Callable[[int], None] | None = None) -> SegmentOutcome:
    """Upscale ``job``'s segment into its part file; ``progress(n)`` after every frame."""
    from ..video.pipeline import upscale_video

    start = time.perf_counter()
    runner = _runner(job.settings.runner_spec())
    warnings: list[str] = []
    result = upscale_video(
        job.source,
        job.part,
        runner,
        overwrite=True,
        warn=warnings.append,
        progress=progress,
        open_reader=lambda source, log: SegmentReader(source, job.segment, log),
        variable_rate=job.variable_rate,
        **job.settings.video_options(),
    )
    path = Path(job.part)
    return SegmentOutcome(
        video=job.video,
        index=job.segment.index,
        frames=result.frames,
        size=path.stat().st_size,
        sha256=sha256_file(path),
        seconds=time.perf_counter() - start,
        host=socket.gethostname(),
        warnings=warnings,
    )
