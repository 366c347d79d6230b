"""An output container being written, with PyAV's two ways to give it a video stream.

- **encoded** (:meth:`OutputFile.add_encoded_video`, PyAV's ``add_stream``): frames go through an
  encoder; the single-machine writer (:mod:`vsr.video.writer`) uses it;
- **copied** (:meth:`OutputFile.add_copied_video`, ``add_stream_from_template``): packets already
  encoded elsewhere are muxed as they are; the cluster join uses it.

Either way the source's other streams (audio, subtitles, attachments), its chapters and its
global metadata come along through the routes of :mod:`vsr.video.passthrough`. Every failure is
one OutputError line naming the output as the user knows it, with FFmpeg's reason.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import av.error

from ..errors import OutputError
from .containers import Y4M
from .ffmpeg_log import reason
from .passthrough import CarryPlan, copy_container_settings, copy_stream_settings, plan_carried_streams

if TYPE_CHECKING:
    from .reader import VideoReader


class _Y4mAspect:
    """A write-only file that puts the sample aspect ratio into the y4m stream header's A field.

    FFmpeg's y4m muxer takes it from the AVStream, which PyAV does not expose (only the codec
    context's), so the header comes out ``A0:0`` (unknown) and a non-square picture would be shown
    stretched. The header is the first line; the rest passes through untouched.
    """

    def __init__(self, raw, sar: Fraction, owned: bool):
        self._raw, self._owned = raw, owned
        self._field = f"A{sar.numerator}:{sar.denominator}".encode()
        self._head = b""
        self._done = False

    def write(self, data) -> int:
        size = len(data)
        if self._done:
            self._raw.write(data)
            return size
        self._head += bytes(data)
        end = self._head.find(b"\n")
        if end >= 0:
            fields = [self._field if f.startswith(b"A") else f for f in self._head[:end].split(b" ")]
            self._raw.write(b" ".join(fields) + self._head[end:])
            self._head, self._done = b"", True
        return size

    def flush(self) -> None:
        if self._head:  # a header without its newline yet: nothing valid to write
            return
        self._raw.flush()

    def close(self) -> None:
        if self._head:
            self._raw.write(self._head)
            self._head = b""
        if self._owned:
            self._raw.close()
        else:
            self._raw.flush()


class OutputFile:
    """One output container: open, add the video stream (encoded or copied), carry the source's
    other streams, :meth:`start`, :meth:`mux` / :meth:`carry` packets, then :meth:`close` (or
    :meth:`abort`, after which the caller deletes the file).

    ``file`` is a path or a binary file object (stdout); ``name`` is how errors name it; ``log``
    the captured FFmpeg log that error lines quote. ``sample_aspect_ratio`` is only needed for
    y4m, whose header vsr writes itself (see :class:`_Y4mAspect`).
    """

    def __init__(self, file, format_name: str, name: str = "output", log: list | None = None, sample_aspect_ratio: Fraction | None = None):
        self.format_name, self.name, self.log = format_name, name, log
        self.plan = CarryPlan()
        self.notes: list[str] = []
        self._sink = None
        options = {"strict": "-1"} if format_name == Y4M else {}  # y4m: >8-bit formats are "unofficial"
        try:
            if format_name == Y4M and sample_aspect_ratio:
                owned = isinstance(file, (str, os.PathLike))
                self._sink = file = _Y4mAspect(open(file, "wb") if owned else file, sample_aspect_ratio, owned)
            self.container = av.open(file, "w", format=format_name, options=options)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"{name}: cannot create ({reason(exc, log)})") from None

    # -- the video stream: one of the two verbs ------------------------------------------------

    def add_encoded_video(self, codec: str, rate: Fraction | None, options: dict | None = None):
        """A video stream that frames are encoded into (PyAV's ``add_stream``)."""
        return self.container.add_stream(codec, rate=rate, options=options or {})

    def add_copied_video(self, template):
        """A video stream that takes ``template``'s already-encoded packets as they are."""
        return self.container.add_stream_from_template(template)

    # -- what comes from the source ----------------------------------------------------------

    def carry_from(self, source: VideoReader, video) -> None:
        """Route ``source``'s other streams into this file and copy its stream tags onto ``video``
        and its chapters and global metadata onto the file (notes say what could not come)."""
        if self.format_name != Y4M:
            copy_stream_settings(source.video, video)
        self.plan = plan_carried_streams(source.carried, self.container, self.format_name)
        self.notes.extend(self.plan.notes)
        copy_container_settings(source.container, self.container, self.format_name, self.notes)

    def start(self) -> None:
        """Open the file and the encoders and write the header. The file is opened here, not in
        the constructor (FFmpeg's way), so a file error is said here; an encoder's FFmpegError
        passes through, as the caller knows which encoder and settings it asked for."""
        try:
            self.container.start_encoding()
        except OSError as exc:  # FFmpeg's file errors (ENOENT, EACCES, ...) are OSErrors too
            raise OutputError(f"{self.name}: cannot create ({reason(exc, self.log)})") from None

    # -- packets -----------------------------------------------------------------------------

    def mux(self, packets) -> None:
        """Mux packets; a failure is one OutputError line with FFmpeg's reason."""
        try:
            self.container.mux(packets)
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: writing failed ({reason(exc, self.log)})") from None
        except OSError as exc:
            raise OutputError(f"{self.name}: writing failed ({exc.strerror or exc})") from None

    def carry(self, packet: av.Packet) -> None:
        """Mux a packet of another source stream through its route (copy or re-encode); drop it
        when the stream has no route."""
        route = self.plan.routes.get(packet.stream_index)
        if route is None:
            return
        try:
            packets = route.packets(packet)
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: re-encoding stream #{packet.stream_index} failed ({reason(exc, self.log)})") from None
        self.mux(packets)

    def flush_carried(self) -> None:
        """What the re-encoding routes still hold."""
        packets = []
        try:
            for route in self.plan.routes.values():
                packets.extend(route.flush())
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: flushing a re-encoded stream failed ({reason(exc, self.log)})") from None
        self.mux(packets)

    # -- the end -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def aborted_on_error(self, ffmpeg_error: Callable[[av.error.FFmpegError], Exception]):
        """Abort the file if the block fails: an FFmpeg error becomes ``ffmpeg_error(exc)`` (the
        caller knows what it was doing), anything else passes through as it is."""
        try:
            yield self
        except av.error.FFmpegError as exc:
            self.abort()
            raise ffmpeg_error(exc) from None
        except BaseException:
            self.abort()
            raise

    def close(self) -> None:
        """Write the trailer and close the file."""
        try:
            self.container.close()
            if self._sink is not None:
                self._sink.close()
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"{self.name}: finishing the file failed ({reason(exc, self.log)})") from None

    def abort(self) -> None:
        """Close without caring about the result (the caller deletes the file)."""
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self.container.close()
        if self._sink is not None:
            with contextlib.suppress(Exception):
                self._sink.close()
