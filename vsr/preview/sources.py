"""Where the preview's pictures come from: a webcam (OpenCV), or a file or stream URL (PyAV).

A source hands out RGB frames one at a time. A file is played at its own pace (by its frames'
timestamps), as a camera delivers them, so that the preview shows the video as it would be watched
and the live loop's skipped-frame count means the same thing for both.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ConfigError, InputError

# A stream URL that stalls must not hang the preview: seconds to open, and to wait for a packet.
_URL_TIMEOUT_S = (10.0, 10.0)


@dataclass(frozen=True)
class SourceFrame:
    """One captured picture.

    ``rgb`` is (H, W, 3) uint8; ``pts_s`` the presentation time in seconds that the container gave
    it (None for a camera); ``captured_at`` the ``time.monotonic()`` at which it was read, from which
    the preview's latency is measured.
    """

    rgb: np.ndarray
    pts_s: float | None
    captured_at: float


class Source(Protocol):
    """A camera, file or stream. ``live`` sources deliver frames whether or not they are read."""

    name: str
    live: bool

    def read(self) -> SourceFrame | None:
        """The next frame (blocking until it is due), or None when the source has ended."""

    def restart_clock(self) -> None:
        """Play on from now, after a pause, instead of racing to catch up."""

    def close(self) -> None: ...


def open_source(spec: str, loop: bool = False, size: tuple[int, int] | None = None) -> Source:
    """A webcam for an integer ``spec`` ("0"), otherwise a file or URL that FFmpeg opens.

    ``loop`` replays a file from the start when it ends; ``size`` (width, height) shrinks every
    picture to that size as it is captured.
    """
    spec = str(spec)
    if spec.strip().isdigit():
        if loop:
            raise ConfigError(f"--loop replays a file; camera {spec} has no end to loop from")
        return CameraSource(int(spec), size)
    return StreamSource(spec, loop, size)


class StreamSource:
    """A video file or a stream URL, decoded by PyAV and paced by its timestamps."""

    live = False

    def __init__(self, spec: str, loop: bool = False, size: tuple[int, int] | None = None):
        self.name = spec
        self.loop = loop
        self.size = size
        self._is_url = "://" in spec
        if not self._is_url and not Path(spec).exists():
            raise InputError(f"{spec}: no such file or directory")
        if not self._is_url and Path(spec).is_dir():
            raise InputError(f"{spec}: is a directory; --source takes a camera index, a video file or a URL")
        self._container = None
        self._open()

    def _open(self) -> None:
        import av

        try:
            self._container = av.open(self.name, timeout=_URL_TIMEOUT_S if self._is_url else None)
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.name}: cannot open as video ({_av_reason(exc)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.name}: has no video stream")
        self._stream = self._container.streams.video[0]
        self._frames = self._container.decode(self._stream)
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._frame_interval_s = 1.0 / float(rate) if rate else 1.0 / 25.0
        self._count = 0
        self.restart_clock()

    def restart_clock(self) -> None:
        self._clock_start: float | None = None  # wall time and pts that the next frame is paced from
        self._clock_pts = 0.0

    def read(self) -> SourceFrame | None:
        import av

        try:
            frame = next(self._frames, None)
            if frame is None and self.loop and self._count:
                self._container.close()
                self._open()
                frame = next(self._frames, None)
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.name}: cannot decode ({_av_reason(exc)})") from None
        if frame is None:
            return None
        self._count += 1
        pts_s = frame.time if frame.time is not None else self._count * self._frame_interval_s
        self._wait_until_due(pts_s)
        if self.size:
            frame = frame.reformat(width=self.size[0], height=self.size[1], format="rgb24", interpolation="AREA")
        rgb = frame.to_ndarray(format="rgb24")
        return SourceFrame(rgb, frame.time, time.monotonic())

    def _wait_until_due(self, pts_s: float) -> None:
        now = time.monotonic()
        if self._clock_start is None:
            self._clock_start, self._clock_pts = now, pts_s
            return
        delay = self._clock_start + (pts_s - self._clock_pts) - now
        if delay > 0:
            time.sleep(delay)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


class CameraSource:
    """A webcam by index, through OpenCV's ``VideoCapture``."""

    live = True

    def __init__(self, index: int, size: tuple[int, int] | None = None):
        self.name = f"camera {index}"
        self.size = size
        if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
            raise InputError(f"no camera {index} (/dev/video{index} does not exist); pass --source FILE or URL to preview a video")
        try:
            import cv2
        except ImportError:
            raise ConfigError("webcam sources need OpenCV: pip install 'vsr[opencv]' (or pass --source FILE or URL)") from None
        self._cv2 = cv2
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # its warnings would break the one-line error
        self._capture = cv2.VideoCapture(index)
        if not self._capture.isOpened():
            self._capture.release()
            raise InputError(f"camera {index} could not be opened (in use by another program, or no permission?)")

    def restart_clock(self) -> None:
        pass  # a camera's clock is the world's

    def read(self) -> SourceFrame | None:
        ok, bgr = self._capture.read()
        captured_at = time.monotonic()
        if not ok:
            raise InputError(f"{self.name} stopped delivering pictures (unplugged?)")
        if self.size:
            bgr = self._cv2.resize(bgr, self.size, interpolation=self._cv2.INTER_AREA)
        return SourceFrame(np.ascontiguousarray(bgr[:, :, ::-1]), None, captured_at)

    def close(self) -> None:
        self._capture.release()


def _av_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)
