"""FFmpeg's own error messages, captured for the length of a job and turned into one-line reasons.

PyAV keeps FFmpeg silent by default, so an exception says only "Invalid data found"; the message
that explains it ("File ended prematurely", "width not divisible by 2") goes to FFmpeg's log. We
capture error-level messages while a job runs, to word our errors with them and to notice a demuxer
that hit the end of a truncated file without raising (Matroska does that).
"""
from __future__ import annotations

from contextlib import contextmanager

import av
import av.logging


@contextmanager
def captured_ffmpeg_log():
    """Collect FFmpeg's error messages as ``(level, component, message)`` tuples, print none.

    The log level is process-wide in FFmpeg; it is restored on exit. PyAV drops a message equal to
    the one before it; here every one is kept, since the same file opened twice (a check, then the
    job) says the same thing twice, and the second time is the one the job reads.
    """
    previous = av.logging.get_level()
    previous_skip = av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture(local=False) as log:
            yield log
    finally:
        av.logging.set_skip_repeated(previous_skip)
        av.logging.set_level(previous)


def last_message(log: list | None, component: str | None = None) -> str | None:
    """The newest captured message (from ``component`` when given), stripped, or None."""
    for _level, name, message in reversed(log or []):
        if component is None or name == component:
            text = message.strip()
            if text:
                return text
    return None


def reason(exc: BaseException, log: list | None = None) -> str:
    """A short reason for a PyAV exception: FFmpeg's last log line when there is one."""
    detail = last_message(log)
    base = getattr(exc, "strerror", None) or str(exc)
    if detail and detail.lower() not in base.lower():
        return f"{base}: {detail}"
    return base
