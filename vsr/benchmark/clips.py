"""Clips the benchmarks cut from a video: its first frames, or all of them played several times over.

One owner for the bench scripts' y4m clips (a longer run from a short Xiph sequence, a few frames to
warm workers up). y4m is raw, so reading it back costs next to nothing and the timings that follow
measure vsr, not a decoder; yuv420p is the format vsr and every peer it is compared with read alike.
"""
from __future__ import annotations

from pathlib import Path

import av

from ..errors import InputError
from ..video.containers import Y4M


def write_y4m_clip(source: str | Path, target: str | Path, *, loops: int = 1, first: int | None = None) -> int:
    """The first ``first`` frames of ``source`` (all of them by default), ``loops`` times over, as
    one y4m at the source's frame rate, timestamps counting up from 0; returns the frame count."""
    if loops < 1 or (first is not None and first < 1):
        raise InputError(f"a clip needs at least one frame and one loop (loops={loops}, first={first})")
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or 25
        frames = []
        for frame in container.decode(stream):
            if first is not None and len(frames) == first:
                break
            frames.append(frame.reformat(format="yuv420p"))
    if not frames:
        raise InputError(f"{source}: no video frames to make a clip of")
    with av.open(str(target), "w", format=Y4M) as out:
        video = out.add_stream("wrapped_avframe", rate=rate)
        video.width, video.height, video.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        index = 0
        for _ in range(loops):
            for frame in frames:
                frame.pts = index
                out.mux(video.encode(frame))
                index += 1
        out.mux(video.encode(None))
    return index
