"""Whether a part file kept from an earlier run may be joined: the same bytes, every picture there.

A rerun reuses the parts its manifest records as done. Before it trusts one it checks that the
file is still the one its task wrote (size and SHA-256 as recorded: a disk fault, a sync tool or a
person may have changed it since, and a part of the same size was taken as is until now) and that
it decodes, without an error, to the frame count recorded. A part that fails is done again; the
size is looked at first, then the hash, and only a part whose bytes are as written is decoded.
"""
from __future__ import annotations

from pathlib import Path

import av
import av.error

from ..video.ffmpeg_log import captured_ffmpeg_log, reason
from ..files import sha256_file


def part_problem(path: Path, frames: int | None, size: int | None, sha256: str | None) -> str | None:
    """Why the part at ``path`` is not the one recorded (``frames``, ``size``, ``sha256``), or
    None when it may be reused."""
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        return "it is gone"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if frames is None or size is None or sha256 is None:
        return "the manifest does not record what was written"
    if actual != size:
        return f"its size changed ({actual} bytes, {size} were written)"
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if digest != sha256:
        return "its bytes changed (SHA-256 differs from the one recorded)"
    return _decode_problem(path, frames)


def _decode_problem(path: Path, frames: int) -> str | None:
    count = 0
    with captured_ffmpeg_log() as log:
        try:
            with av.open(str(path), metadata_errors="replace") as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for _frame in container.decode(stream):
                    count += 1
        except (av.error.FFmpegError, IndexError, OSError) as exc:
            return f"it does not decode after frame {count} ({reason(exc, log)})"
    if log:  # error-level messages only: a concealed decoding error still gives a frame
        return f"it decodes with errors ({log[0][2].strip()})"
    if count != frames:
        return f"it decodes to {count} frames, {frames} were written"
    return None
