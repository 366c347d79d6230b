"""Rates as vsr writes them for people: frames (or images) per second.

One owner for the closing report, ``vsr preview``'s overlay and summary, and ``vsr bench speed``'s
chart, so a slow run reads the same everywhere instead of ``0.0 fps`` in some places.
"""
from __future__ import annotations


def format_rate(per_second: float) -> str:
    """``29.97`` -> ``"30.0"``; ``0.0423`` -> ``"0.042"``."""
    # One decimal reads well at video rates; MSRN on a small CPU makes well under one frame a
    # second, which one decimal would print as 0.0, so slow rates keep two significant digits.
    return f"{per_second:.1f}" if per_second >= 1 else f"{per_second:.2g}"
