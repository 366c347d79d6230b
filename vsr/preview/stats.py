"""What the preview reports about itself: frame rates, latency and skipped frames."""
from __future__ import annotations

import collections
import time
from dataclasses import asdict, dataclass

from ..rates import format_rate


@dataclass(frozen=True)
class PreviewStats:
    """A snapshot of the live preview, as shown on screen and served at ``/stats``.

    ``fps`` counts super-resolved frames per second and ``source_fps`` captured ones, both over the
    last couple of seconds; ``latency_ms`` is capture to finished picture (mean over the same span);
    ``skipped`` counts captured frames that a newer one replaced before super-resolution got to them.
    ``models`` are those ``m`` cycles through; ``unavailable_models`` those that failed to load
    (``message`` says why), which ``m`` passes over.
    """

    fps: float
    source_fps: float
    latency_ms: float
    skipped: int
    frames: int
    model: str
    backend: str
    device: str
    precision: str
    scale: int
    input_size: tuple[int, int] | None
    output_size: tuple[int, int] | None
    layout: str
    paused: bool
    ended: bool
    message: str
    models: tuple[str, ...] = ()
    unavailable_models: tuple[str, ...] = ()  # tried and could not load (no weights for this scale, ...)

    def as_dict(self) -> dict:
        return asdict(self)

    def status_line(self) -> str:
        """The one line drawn under the picture."""
        parts = [
            f"{self.model} x{self.scale}",
            f"{self.backend} {self.device} {self.precision}",
            f"{format_rate(self.fps)} fps",
            f"{self.latency_ms:.0f} ms",
            f"skipped {self.skipped}",
        ]
        if self.paused:
            parts.append("paused")
        if self.message:
            parts.append(self.message.split(";")[0])  # the picture has room for the gist; /stats has it all
        return " | ".join(parts)


class RateMeter:
    """Events per second, and the mean of a value per event, over a sliding window."""

    def __init__(self, window_s: float = 2.0):
        self.window_s = window_s
        self._events: collections.deque[tuple[float, float]] = collections.deque()

    def tick(self, value: float = 0.0, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._events.append((now, value))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._events and self._events[0][0] < now - self.window_s:
            self._events.popleft()

    def rate(self, now: float | None = None) -> float:
        """Events per second; 0 when fewer than two fall within the window."""
        self._trim(time.monotonic() if now is None else now)
        if len(self._events) < 2:
            return 0.0
        span = self._events[-1][0] - self._events[0][0]
        return (len(self._events) - 1) / span if span > 0 else 0.0

    def mean(self) -> float:
        return sum(v for _, v in self._events) / len(self._events) if self._events else 0.0
