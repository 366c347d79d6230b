"""Frame sizes as the command line writes them: ``WIDTHxHEIGHT`` ("1920x1080").

One parser for every flag that takes a size (``vsr export --size``, ``vsr bench speed --size``,
``vsr preview --input-size``) and for the bench scripts, so they accept the same spellings
("1920x1080", "1920X1080", spaces around the numbers) and refuse the rest with the same line.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from .errors import ConfigError

_WXH = re.compile(r"\s*(\d+)\s*[xX]\s*(\d+)\s*")


class FrameSize(NamedTuple):
    """A picture's width and height in pixels; ``str()`` gives ``WIDTHxHEIGHT`` back."""

    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


def parse_size(text: str, flag: str = "--size") -> FrameSize:
    """``"1920x1080"`` -> ``FrameSize(1920, 1080)``; ConfigError naming ``flag`` (one line) for
    anything else, or for a zero side."""
    match = _WXH.fullmatch(text)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ConfigError(f"{flag} takes WIDTHxHEIGHT with positive sides, e.g. 1920x1080; got {text!r}")
    return FrameSize(int(match[1]), int(match[2]))
