"""Writing the upscaled video: the encoder and its stream, in an :class:`~vsr.video.output_file.OutputFile`.

Which container, encoder, settings and pixel format is :mod:`vsr.video.encoder`'s choice; this
module carries it out. The output file (opening, muxing, the source's other streams, closing) is
:mod:`vsr.video.output_file`'s, shared with the cluster join, which copies packets instead.

The video stream carries the input's colour tags (primaries, transfer, matrix, range), sample
aspect ratio, display matrix (rotation) and stream metadata; :mod:`vsr.video.passthrough` adds the
other streams, chapters and global metadata.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import av.error

from ..errors import ConfigError, OutputError
from .containers import Y4M
from .encoder import Encoder
from .ffmpeg_log import reason
from .frames import PixelLayout
from .output_file import OutputFile

if TYPE_CHECKING:
    from .reader import VideoReader


@dataclass(frozen=True)
class VideoSpec:
    """The output video stream: size, layout, timing and the tags copied from the input."""

    width: int
    height: int
    layout: PixelLayout
    time_base: Fraction
    frame_rate: Fraction | None
    color_primaries: int = 2
    color_trc: int = 2
    colorspace: int = 2
    color_range: int = 0
    sample_aspect_ratio: Fraction | None = None
    display_matrix: tuple[int, ...] | None = None


class VideoWriter:
    """The upscaled video stream encoded into an output file that also carries ``source``'s other
    streams (when a source is given).

    ``file`` is a path or a binary file object (stdout). Encoders are opened in the constructor, so
    bad options fail before any work is done. :meth:`write` takes frames in presentation order,
    :meth:`carry` other streams' packets, :meth:`close` flushes and writes the trailer.
    """

    def __init__(self, file, format_name: str, encoder: Encoder, spec: VideoSpec, source: VideoReader | None = None, log: list | None = None, name: str = "output"):
        self.format_name, self.encoder, self.spec, self.name = format_name, encoder, spec, name
        self._log = log
        self.frames_written = 0
        self._durations: dict[int, int] = {}
        self.output = OutputFile(file, format_name, name, log, spec.sample_aspect_ratio)
        cannot_open = f"{encoder.name}: cannot open the encoder for {spec.layout.pix_fmt} {spec.width}x{spec.height}"
        with self.output.aborted_on_error(lambda exc: ConfigError(f"{cannot_open} ({reason(exc, log)})")):
            self.video = self._add_video_stream()
            if source is not None:
                self.output.carry_from(source, self.video)
            self.output.start()

    @property
    def notes(self) -> list[str]:
        """What of the source did not come along unchanged (streams re-encoded or dropped)."""
        return self.output.notes

    def _add_video_stream(self):
        spec = self.spec
        if self.format_name == Y4M:
            # The y4m header's frame rate is the stream's time base; y4m has no timestamps.
            rate = spec.frame_rate or Fraction(25)
            stream = self.output.add_encoded_video(self.encoder.name, rate)
            self._time_base = Fraction(1) / rate
        else:
            if self.encoder.name == "libsvtav1":
                # SVT-AV1 prints its banner and warnings straight to stderr and reads how much only
                # from its environment (1 = errors only): set when such an encoder is really opened,
                # never as a side effect of choosing or checking one; a value the user set is kept.
                os.environ.setdefault("SVT_LOG", "1")
            stream = self.output.add_encoded_video(self.encoder.name, spec.frame_rate, dict(self.encoder.options))
            self._time_base = spec.time_base
            stream.codec_context.time_base = spec.time_base
            stream.time_base = spec.time_base
        ctx = stream.codec_context
        if self.encoder.thread_type is not None:
            ctx.thread_type = self.encoder.thread_type
        ctx.width, ctx.height = spec.width, spec.height
        ctx.pix_fmt = spec.layout.pix_fmt
        ctx.color_primaries, ctx.color_trc = spec.color_primaries, spec.color_trc
        ctx.colorspace, ctx.color_range = spec.colorspace, spec.color_range
        if spec.sample_aspect_ratio:
            ctx.sample_aspect_ratio = spec.sample_aspect_ratio
        if spec.display_matrix and self.format_name != Y4M:
            stream.set_display_matrix(list(spec.display_matrix))
        return stream

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            # Encoders such as libx264 drop the frame's duration; the muxers need it for the last
            # frame (MP4 track length, Matroska block duration), so put it back from the frame.
            duration = self._durations.pop(packet.pts, None)
            if duration and not packet.duration:
                packet.duration = duration
        self.output.mux(packets)

    def write(self, frame: av.VideoFrame, pts: int, duration: int | None) -> None:
        """Encode one frame; ``pts``/``duration`` in the input's time base (y4m: in frame order)."""
        spec = self.spec
        if self.format_name == Y4M:
            frame.pts, frame.time_base = self.frames_written, self._time_base
        else:
            frame.pts, frame.time_base = pts, spec.time_base
            if duration:
                frame.duration = duration
                self._durations[pts] = duration
        frame.color_primaries, frame.color_trc = spec.color_primaries, spec.color_trc
        frame.colorspace, frame.color_range = spec.colorspace, spec.color_range
        try:
            packets = self.video.encode(frame)
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: {self.encoder.name} failed at frame {self.frames_written} ({reason(exc, self._log)})") from None
        self._mux_video(packets)
        self.frames_written += 1

    def carry(self, packet: av.Packet) -> None:
        """Mux a packet of another source stream (see :meth:`OutputFile.carry`)."""
        self.output.carry(packet)

    def close(self) -> None:
        """Flush the encoders and write the trailer."""
        try:
            packets = self.video.encode(None)
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: flushing the encoder failed ({reason(exc, self._log)})") from None
        self._mux_video(packets)
        self.output.flush_carried()
        self.output.close()

    def abort(self) -> None:
        """Close without caring about the result (the caller deletes the file)."""
        self.output.abort()
