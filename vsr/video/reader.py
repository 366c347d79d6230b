"""Opening a video (a file FFmpeg reads, or ``-``: any stream FFmpeg probes on stdin, e.g. y4m,
NUT, Matroska) and decoding it in file order.

The reader picks the video stream vsr upscales, and hands out, in the order they are in the file,
that stream's decoded frames and the raw packets of every other stream (audio, subtitles, ...), so
the writer can copy those untouched and keep their interleaving. Frames are PyAV frames: each keeps
its own pts, time_base, duration and colour properties.

Every failure becomes an :class:`~vsr.errors.InputError` with one line saying what is wrong. A
file that ends early is an error, not a shorter video: FFmpeg's demuxers stop quietly on some
truncated files (Matroska, y4m), so the reader checks for that at the end.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error

from ..errors import InputError
from .containers import Y4M
from .ffmpeg_log import last_message, reason

STDIO = "-"
_Y4M_FRAME_HEADER = b"FRAME\n"

# What demuxers log (without raising) when a file ends early, e.g. Matroska's "File ended prematurely".
_TRUNCATION_SIGNS = ("prematurely", "partial file", "truncated", "unexpected end")

# Chroma siting per y4m colour-space tag (the y4m default, no tag, is 420jpeg).
_Y4M_SITING = {"420jpeg": "center", "420mpeg2": "left", "420paldv": "topleft", "420": "center"}


class _Sniffer:
    """A read-only file wrapper that remembers the first bytes read (the y4m header on stdin) and
    counts them all (a pipe has no size to tell a truncated last frame by)."""

    def __init__(self, raw, keep: int = 512):
        self._raw = raw
        self._keep = keep
        self.head = b""
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if len(self.head) < self._keep:
            self.head += data[: self._keep - len(self.head)]
        self.total += len(data)
        return data

    def size(self) -> int:
        """Bytes of the whole stream: those read, and any the demuxer left when it stopped."""
        while self.read(1 << 16):
            pass
        return self.total


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream, before decoding.

    ``frames`` is an estimate for progress display (containers are not always right about it);
    ``chroma_siting`` is the position of the chroma samples (see :mod:`vsr.video.chroma`).
    """

    codec: str
    width: int
    height: int
    pix_fmt: str | None
    time_base: Fraction
    frame_rate: Fraction | None
    frames: int | None
    duration_s: float | None
    sample_aspect_ratio: Fraction | None
    chroma_siting: str
    metadata: dict = field(default_factory=dict)


class VideoReader:
    """An opened input: ``container``, the ``video`` stream vsr upscales, and ``carried`` streams.

    Use as a context manager; :meth:`items` yields decoded video frames and other streams' packets.
    """

    def __init__(self, source: str | os.PathLike, log: list | None = None):
        self.source = str(source)
        self.name = "stdin" if self.source == STDIO else self.source
        self._log = log
        self._sniffer = None
        self.frames_read = 0
        self.frames_damaged = 0  # decoded with errors the decoder concealed (damaged input)
        self._log_start = len(log) if log is not None else 0
        self.container = self._open()
        try:
            self.video = self._pick_video_stream()
            self.carried = [s for s in self.container.streams if s.index != self.video.index]
            self.info = self._probe()
        except BaseException:
            self.container.close()
            raise

    # -- opening -------------------------------------------------------------------------------

    def _open(self):
        try:
            if self.source == STDIO:
                # Probed like a file: y4m, NUT, Matroska, MPEG-TS... whatever FFmpeg can read from
                # a pipe (NUT and Matroska carry timestamps and audio; y4m only pictures).
                self._sniffer = _Sniffer(sys.stdin.buffer)
                return av.open(self._sniffer, "r", metadata_errors="replace")
            path = Path(self.source)
            if path.is_dir():
                raise InputError(f"{path}: is a directory, not a video")
            if path.stat().st_size == 0:
                raise InputError(f"{path}: empty file")
            return av.open(str(path), "r", metadata_errors="replace")
        except av.error.FFmpegError as exc:
            if self._starts_like_y4m():  # FFmpeg's error code says little here ("Device or resource busy")
                raise InputError(f"{self.name}: bad y4m header ({last_message(self._log) or reason(exc)})") from None
            what = "not a video stream FFmpeg can read from a pipe" if self.source == STDIO else "not a video file FFmpeg can read"
            raise InputError(f"{self.name}: {what} ({reason(exc, self._log)})") from None
        except OSError as exc:
            raise InputError(f"{self.name}: cannot read ({exc.strerror or exc})") from None

    def _starts_like_y4m(self) -> bool:
        try:
            head = self._sniffer.head if self._sniffer is not None else _read_head(self.source)
        except OSError:
            return False
        return head.startswith(b"YUV4MPEG2")

    def _pick_video_stream(self):
        cover = av.stream.Disposition.attached_pic
        videos = [s for s in self.container.streams.video if not s.disposition & cover]
        if not videos:
            # A cover picture is a video stream to FFmpeg, but not a video to upscale.
            kinds = sorted({"cover picture" if s.type == "video" else s.type for s in self.container.streams}) or ["none"]
            raise InputError(f"{self.name}: no video stream (streams: {', '.join(kinds)})")
        stream = videos[0]
        if stream.codec_context is None:
            raise InputError(f"{self.name}: video stream #{stream.index} is in a codec this FFmpeg cannot decode")
        # Frame threading: decoding runs on FFmpeg's own threads, beside the model.
        stream.thread_type = "AUTO"
        return stream

    def _probe(self) -> VideoInfo:
        stream = self.video
        ctx = stream.codec_context
        time_base = stream.time_base or Fraction(1, 1000)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        frames = stream.frames or None
        duration_s = None
        if stream.duration is not None:
            duration_s = float(stream.duration * time_base)
        elif self.container.duration is not None:
            duration_s = self.container.duration / av.time_base
        if frames is None and duration_s and rate:
            frames = round(duration_s * rate)
        return VideoInfo(
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            pix_fmt=ctx.format.name if ctx.format else None,
            time_base=time_base,
            frame_rate=Fraction(rate) if rate else None,
            frames=frames,
            duration_s=duration_s,
            sample_aspect_ratio=stream.sample_aspect_ratio or None,
            chroma_siting=self._chroma_siting(ctx),
            metadata=dict(stream.metadata),
        )

    def _chroma_siting(self, ctx) -> str:
        if self.container.format.name == Y4M:
            head = self._sniffer.head if self._sniffer else _read_head(self.source)
            tag = re.search(rb" C(\S+)", head.split(b"\n", 1)[0])
            return _Y4M_SITING.get(tag.group(1).decode(errors="replace").lower() if tag else "420", "center")
        if ctx.name in ("mjpeg", "jpeg2000") or (ctx.format and ctx.format.name.startswith("yuvj")):
            return "center"
        return "left"  # MPEG-2 / H.264 / HEVC default, and what players assume when untagged

    # -- decoding ------------------------------------------------------------------------------

    def items(self) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded frames of :attr:`video` and packets of :attr:`carried` streams, in file order."""
        video_index = self.video.index
        streams = [self.video] + [s for s in self.carried if s.type in ("audio", "subtitle", "data", "video")]
        try:
            for packet in self.container.demux(streams):
                # PyAV's end-of-stream packets are empty and carry their stream only in .stream
                # (stream_index reads 0); the video decoder is flushed by its own one.
                is_video = packet.stream.index == video_index
                if packet.size == 0 and packet.dts is None:
                    if is_video:
                        for frame in self.video.decode(None):
                            self.frames_read += 1
                            self.frames_damaged += frame.is_corrupt
                            yield frame
                elif is_video:
                    for frame in self.video.decode(packet):
                        self.frames_read += 1
                        self.frames_damaged += frame.is_corrupt
                        yield frame
                else:
                    yield packet
        except av.error.FFmpegError as exc:
            raise InputError(
                f"{self.name}: corrupt or truncated after frame {self.frames_read} ({reason(exc, self._log)})"
            ) from None
        self._check_complete()

    def _check_complete(self) -> None:
        """Raise if the demuxer stopped early without saying so by an exception."""
        demuxer = self.container.format.name
        for _level, component, message in (self._log or [])[self._log_start :]:
            if component == demuxer and any(sign in message.lower() for sign in _TRUNCATION_SIGNS):
                raise InputError(f"{self.name}: {message.strip()} (the file is truncated or damaged)")
        if demuxer == Y4M:
            self._check_y4m_size()

    def _check_y4m_size(self) -> None:
        # The y4m demuxer drops a last, incomplete frame silently; the size of the file (or of all
        # that came through the pipe) gives it away.
        if self._sniffer is not None:
            head, size = self._sniffer.head, self._sniffer.size()
        else:
            head, size = _read_head(self.source), Path(self.source).stat().st_size
        header_len = head.find(b"\n") + 1
        fmt = av.VideoFormat(self.video.codec_context.format.name)
        width, height = self.info.width, self.info.height
        frame_bytes = y4m_frame_bytes(fmt, width, height)
        expected = header_len + self.frames_read * (len(_Y4M_FRAME_HEADER) + frame_bytes)
        extra = size - expected
        if 0 < extra < len(_Y4M_FRAME_HEADER) + frame_bytes:
            raise InputError(f"{self.name}: truncated (the last frame is incomplete: {extra} of {len(_Y4M_FRAME_HEADER) + frame_bytes} bytes)")

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def y4m_frame_bytes(fmt: av.VideoFormat, width: int, height: int) -> int:
    """Bytes of one y4m frame's samples (planes stored back to back, without padding)."""
    sample = 1 if fmt.components[0].bits <= 8 else 2
    count = len(fmt.components)
    luma, chroma = width * height, fmt.chroma_width(width) * fmt.chroma_height(height)
    planes = [luma] + [chroma] * min(2, count - 1) + [luma] * max(0, count - 3)  # an alpha plane is full size
    return sample * sum(planes)


def _read_head(path: str, size: int = 512) -> bytes:
    with open(path, "rb") as f:
        return f.read(size)


def sample_bits(pix_fmt: str | None) -> int | None:
    """Bits per sample of an FFmpeg pixel format (``yuv420p10le``: 10), None if unknown."""
    if pix_fmt is None:
        return None
    try:
        return max(component.bits for component in av.VideoFormat(pix_fmt).components)
    except (ValueError, TypeError):
        return None


def source_sample_bits(source: str | os.PathLike) -> int | None:
    """Bits per sample of a video file's stream, as it declares them; None for stdin, or when the
    file cannot be opened (the job itself then says why)."""
    if str(source) == STDIO:
        return None
    try:
        reader = VideoReader(source)
    except Exception:  # noqa: BLE001 - the job reports a bad source
        return None
    reader.container.close()
    return sample_bits(reader.info.pix_fmt)
