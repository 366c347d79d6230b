"""How the preview's picture is drawn, apart from the frame in it: side by side or split, where the
split line is, and the status message; with a version that changes whenever any of them does, so
the view cache knows when to compose again and a front end when to fetch a new picture.

Plain state, not locked here: :class:`~vsr.preview.live.LivePreview` changes it under its
condition variable, the one its view waits on for a new version.
"""
from __future__ import annotations

import math

from .compose import LAYOUTS


class ViewState:
    """``layout`` is one of :data:`~vsr.preview.compose.LAYOUTS`; ``split`` the split line's
    position in [0, 1] of the picture's width."""

    def __init__(self, layout: str = "side", split: float = 0.5):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
        self._layout = layout
        self._split = split
        self._message = ""
        self._version = 0

    @property
    def layout(self) -> str:
        return self._layout

    @property
    def split(self) -> float:
        return self._split

    @property
    def message(self) -> str:
        return self._message

    @property
    def version(self) -> int:
        return self._version

    def changed(self) -> None:
        """Count a change the picture shows that is kept elsewhere (pausing: the status line says so)."""
        self._version += 1

    def toggle_layout(self) -> str:
        self._layout = LAYOUTS[(LAYOUTS.index(self._layout) + 1) % len(LAYOUTS)]
        self.changed()
        return self._layout

    def set_split(self, split: float) -> float:
        """Put the split line at ``split`` x width (clamped to [0, 1]); ValueError if not a finite number."""
        if not math.isfinite(split):
            raise ValueError(f"the split position must be a finite number, not {split}")
        self._split = min(max(float(split), 0.0), 1.0)
        self.changed()
        return self._split

    def move_split(self, delta: float) -> float:
        return self.set_split(self._split + delta)

    def split_from_x(self, x: int, picture_width: int) -> float:
        """The split position for a click at column ``x`` of the composed picture (side by side has
        no line to move: the position stays)."""
        return self.set_split(x / max(picture_width, 1)) if self._layout == "split" else self._split

    def set_message(self, text: str) -> None:
        self._message = text
        self.changed()
