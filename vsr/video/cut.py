"""Processing part of a video: ``--start``/``-ss``, ``--duration``/``-t`` and ``--frames``.

As FFmpeg's input options do: the input is sought to the keyframe before ``start_s`` (when it can
seek: a pipe is read through instead), frames before ``start_s`` are decoded but dropped, and the
output's timestamps begin at zero: every kept frame and every carried packet (sound, subtitles)
is shifted by the same ``start_s``, so they stay in sync. Sound and subtitle packets that begin
before ``start_s`` or at or after the end are left out, so the cut is at packet granularity for
them (an audio packet is some milliseconds). The end is ``start_s + duration_s`` or the
``frames``-th kept frame, whichever comes first.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import av

from ..errors import ConfigError, InputError
from .reader import STDIO, VideoReader


@dataclass(frozen=True)
class Cut:
    """The part to process: from ``start_s`` seconds, for ``duration_s`` seconds and/or ``frames``."""

    start_s: float = 0.0
    duration_s: float | None = None
    frames: int | None = None

    def check(self) -> "Cut":
        """ConfigError for a window that cannot hold a frame; the cut itself otherwise."""
        if not math.isfinite(self.start_s) or self.start_s < 0:
            raise ConfigError(f"--start must be 0 or more seconds, not {self.start_s:g}")
        if self.duration_s is not None and not (math.isfinite(self.duration_s) and self.duration_s > 0):
            raise ConfigError(f"--duration must be more than 0 seconds, not {self.duration_s:g}")
        if self.frames is not None and self.frames < 1:
            raise ConfigError(f"--frames must be at least 1, not {self.frames}")
        return self

    @property
    def end_s(self) -> float | None:
        return None if self.duration_s is None else self.start_s + self.duration_s


def parse_time(text: str) -> float:
    """Seconds from ``S``, ``M:S`` or ``H:M:S`` (fractions allowed), as FFmpeg's -ss and -t take them."""
    parts = text.strip().split(":")
    try:
        if not 1 <= len(parts) <= 3 or any(p == "" for p in parts):
            raise ValueError
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60 + float(part)
    except ValueError:
        raise ValueError(f"expected seconds or [HH:]MM:SS[.frac], got {text!r}") from None
    return seconds


def _shifted(value: int | None, offset: int) -> int | None:
    return None if value is None else value - offset


class CutReader(VideoReader):
    """A :class:`VideoReader` that yields only the frames and packets of ``cut``, re-timed to start at 0."""

    def __init__(self, source, log: list | None = None, cut: Cut = Cut()):
        super().__init__(source, log)
        self.cut = cut
        info = self.info
        estimate = info.frames
        if estimate is not None and info.frame_rate:
            rest = max(0, estimate - round(cut.start_s * info.frame_rate))
            if cut.duration_s is not None:
                rest = min(rest, math.ceil(cut.duration_s * info.frame_rate))
            estimate = rest
        if cut.frames is not None:
            estimate = cut.frames if estimate is None else min(estimate, cut.frames)
        self.info = replace(info, frames=estimate, duration_s=None)

    def _seek(self) -> None:
        if self.cut.start_s <= 0 or self.source == STDIO:
            return
        try:
            # The keyframe at or before the start (the container's own time base: AV_TIME_BASE).
            self.container.seek(int(self.cut.start_s * av.time_base), backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError):
            pass  # not seekable (or not by time): read through from the beginning instead

    def items(self) -> Iterator[av.VideoFrame | av.Packet]:
        cut = self.cut
        start = Fraction(cut.start_s).limit_denominator(1_000_000)
        end = None if cut.end_s is None else Fraction(cut.end_s).limit_denominator(1_000_000)
        self._seek()
        kept = 0
        video_tb = self.video.time_base
        for item in super().items():
            # Decoded frames may carry no time base of their own: theirs is the video stream's.
            tb = video_tb if isinstance(item, av.VideoFrame) else (item.time_base or item.stream.time_base)
            stamp = item.pts if item.pts is not None else item.dts
            when = None if stamp is None or tb is None else stamp * tb
            offset = int(start / tb) if tb is not None else 0
            if isinstance(item, av.VideoFrame):
                if when is not None and when < start:
                    continue
                if (end is not None and when is not None and when >= end) or (cut.frames is not None and kept >= cut.frames):
                    return  # the rest of the file is not read
                item.pts = _shifted(item.pts, offset)
                kept += 1
                yield item
            else:
                if when is not None and (when < start or (end is not None and when >= end)):
                    continue
                item.pts, item.dts = _shifted(item.pts, offset), _shifted(item.dts, offset)
                yield item
        if kept == 0:
            where = f"after {cut.start_s:g} s" if cut.start_s else "in the part asked for"
            raise InputError(f"{self.name}: no video frames {where} (the video is shorter)")
