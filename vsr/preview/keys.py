"""What each key the user presses in the preview does.

The window and the web page forward every key here, so a key means the same in both; the web page
also shows :data:`KEYS` as its help line and refuses any key not in it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ..errors import VsrError
from .stats import PreviewStats

KEYS = {
    "q": "quit",
    " ": "pause / resume",
    "s": "save a PNG snapshot of both halves",
    "m": "next model",
    "v": "side by side / split line",
    "[": "split line left",
    "]": "split line right",
}

# How far one press of [ or ] moves the split line, as a fraction of the picture's width.
SPLIT_STEP = 0.05


class Controllable(Protocol):
    """What the keys act on: a :class:`~vsr.preview.live.LivePreview` (named here only as a
    protocol, since the preview imports this module)."""

    @property
    def model(self) -> str: ...

    def quit(self) -> None: ...

    def toggle_pause(self) -> bool: ...

    def snapshot(self) -> Path: ...

    def set_message(self, text: str) -> None: ...

    def cycle_model(self) -> str: ...

    def toggle_layout(self) -> str: ...

    def move_split(self, delta: float) -> float: ...

    def stats(self) -> PreviewStats: ...


def handle_key(preview: Controllable, key: str) -> str:
    """Act on one of :data:`KEYS`; returns what was done, for the front end to show or print
    ("" for a key that does nothing)."""
    if key == "q":
        preview.quit()
        return "quit"
    if key == " ":
        return "paused" if preview.toggle_pause() else "resumed"
    if key == "s":
        try:
            return f"saved {preview.snapshot()}"
        except VsrError as exc:  # a failed snapshot is reported; the preview goes on
            preview.set_message(str(exc))
            return str(exc)
    if key == "m":
        current = preview.model
        name = preview.cycle_model()
        # Nothing to switch to: the status message says why.
        return f"switching to {name}" if name != current else preview.stats().message
    if key == "v":
        return f"layout {preview.toggle_layout()}"
    if key and key in "[]":
        return f"split at {preview.move_split(-SPLIT_STEP if key == '[' else SPLIT_STEP):.2f}"
    return ""
