"""Output timestamps in presentation order, repaired where the input's follow its packets.

Frames leave the decoder in presentation order, so they take the timestamps of the frames held
back in a small window in increasing order. This is a no-op for well-formed input. It repairs AVI
and other files whose timestamps follow the packets rather than the pictures (MPEG-4 "packed
B-frames": 1, 2, 3, 5, 4, 6, ...), which FFmpeg's best-effort timestamp also only half repairs.
Every input timestamp is used once; none is invented unless a frame has none at all.
"""
from __future__ import annotations

import heapq

# Decoded frames held back so that their timestamps can be handed out in increasing order.
REORDER_WINDOW = 4


class TimestampOrder:
    """Timestamps of the frames in the window (:meth:`add`), handed out smallest first (:meth:`take`)."""

    def __init__(self) -> None:
        self._stamps: list[int] = []
        self.last_pts: int | None = None
        self.last_duration: int | None = None
        self.retimed = 0  # frames that had no usable timestamp and got one just after the previous

    def add(self, stamp: int | None) -> None:
        """A frame entered the window with this timestamp (None: it has none)."""
        if stamp is not None:
            heapq.heappush(self._stamps, stamp)

    def take(self, duration: int | None) -> int:
        """The timestamp of the frame leaving the window now, whose duration is ``duration``."""
        stamp = heapq.heappop(self._stamps) if self._stamps else None
        last = self.last_pts
        if stamp is None or (last is not None and stamp <= last):
            stamp = 0 if last is None else last + (self.last_duration or 1)
            self.retimed += 1
        self.last_pts, self.last_duration = stamp, duration
        return stamp
