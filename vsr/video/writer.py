"""Writing the upscaled video: the muxer that opens the container, the encoder and its stream.

Which container, encoder, settings and pixel format is :mod:`vsr.video.encoder`'s choice; this
module carries it out.

The video stream carries the input's colour tags (primaries, transfer, matrix, range), sample
aspect ratio, display matrix (rotation) and stream metadata; :mod:`vsr.video.passthrough` adds the
other streams, chapters and global metadata.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error

from ..errors import ConfigError, OutputError
from .containers import Y4M
from .ffmpeg_log import reason
from .frames import PixelLayout
from .encoder import Encoder
from .passthrough import CarryPlan, copy_container_settings, copy_stream_settings, plan_carried_streams

#: Output extension -> FFmpeg muxer.


def mux(container, packets, name: str, log) -> None:
    """Mux ``packets`` into an open output ``container``; a failure is one OutputError line naming
    ``name`` (the output as the user knows it) and FFmpeg's reason from ``log``. Used by the
    writer and by the cluster join, which copies packets rather than encoding them."""
    try:
        container.mux(packets)
    except av.error.FFmpegError as exc:
        raise OutputError(f"{name}: writing failed ({reason(exc, log)})") from None
    except OSError as exc:
        raise OutputError(f"{name}: writing failed ({exc.strerror or exc})") from None


def close_quietly(container) -> None:
    """Close an output without caring about the result (its caller deletes the file)."""
    with contextlib.suppress(av.error.FFmpegError, OSError):
        container.close()


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
    """An output container with the upscaled video stream and the carried streams.

    ``file`` is a path or a binary file object (stdout). Encoders are opened in the constructor, so
    bad options fail before any work is done. :meth:`write` takes frames in presentation order,
    :meth:`carry` other streams' packets, :meth:`close` flushes and writes the trailer.
    """

    def __init__(self, file, format_name: str, encoder: Encoder, spec: VideoSpec, reader=None, log: list | None = None, name: str = "output"):
        self.format_name, self.encoder, self.spec, self.name = format_name, encoder, spec, name
        self._log = log
        self.notes: list[str] = []
        self.plan = CarryPlan()
        self.frames_written = 0
        self._durations: dict[int, int] = {}
        options = {"strict": "-1"} if format_name == Y4M else {}  # y4m: >8-bit formats are "unofficial"
        self._sink = None
        try:
            if format_name == Y4M and spec.sample_aspect_ratio:
                owned = isinstance(file, (str, os.PathLike))
                self._sink = file = _Y4mAspect(open(file, "wb") if owned else file, spec.sample_aspect_ratio, owned)
            self.container = av.open(file, "w", format=format_name, options=options)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"{name}: cannot create ({reason(exc, log)})") from None
        try:
            self.video = self._add_video_stream()
            if reader is not None:
                if format_name != Y4M:
                    copy_stream_settings(reader.video, self.video)
                self.plan = plan_carried_streams(reader.carried, self.container, format_name)
                self.notes.extend(self.plan.notes)
                copy_container_settings(reader.container, self.container, format_name, self.notes)
            self.container.start_encoding()
        except av.error.FFmpegError as exc:
            self.abort()
            raise ConfigError(f"{encoder.name}: cannot open the encoder for {spec.layout.pix_fmt} {spec.width}x{spec.height} ({reason(exc, log)})") from None
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self):
        spec = self.spec
        if self.format_name == Y4M:
            # The y4m header's frame rate is the stream's time base; y4m has no timestamps.
            rate = spec.frame_rate or Fraction(25)
            stream = self.container.add_stream(self.encoder.name, rate=rate)
            self._time_base = Fraction(1) / rate
        else:
            if self.encoder.name == "libsvtav1":
                # SVT-AV1 prints its banner and warnings straight to stderr and reads how much only
                # from its environment (1 = errors only): set when such an encoder is really opened,
                # never as a side effect of choosing or checking one; a value the user set is kept.
                os.environ.setdefault("SVT_LOG", "1")
            stream = self.container.add_stream(self.encoder.name, rate=spec.frame_rate, options=dict(self.encoder.options))
            self._time_base = spec.time_base
            stream.codec_context.time_base = spec.time_base
            stream.time_base = spec.time_base
        ctx = stream.codec_context
        ctx.width, ctx.height = spec.width, spec.height
        ctx.pix_fmt = spec.layout.pix_fmt
        ctx.color_primaries, ctx.color_trc = spec.color_primaries, spec.color_trc
        ctx.colorspace, ctx.color_range = spec.colorspace, spec.color_range
        if spec.sample_aspect_ratio:
            ctx.sample_aspect_ratio = spec.sample_aspect_ratio
        if spec.display_matrix and self.format_name != Y4M:
            stream.set_display_matrix(list(spec.display_matrix))
        return stream

    def _mux(self, packets) -> None:
        mux(self.container, packets, self.name, self._log)

    def _mux_video(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            # Encoders such as libx264 drop the frame's duration; the muxers need it for the last
            # frame (MP4 track length, Matroska block duration), so put it back from the frame.
            duration = self._durations.pop(packet.pts, None)
            if duration and not packet.duration:
                packet.duration = duration
        self._mux(packets)

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
        """Mux a packet of another input stream through its route (copy or re-encode); drop if unrouted."""
        route = self.plan.routes.get(packet.stream_index)
        if route is None:
            return
        try:
            packets = route.packets(packet)
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: re-encoding stream #{packet.stream_index} failed ({reason(exc, self._log)})") from None
        self._mux(packets)

    def close(self) -> None:
        """Flush the encoders and write the trailer."""
        try:
            self._mux_video(self.video.encode(None))
            packets = []
            for route in self.plan.routes.values():
                packets.extend(route.flush())
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: flushing the encoder failed ({reason(exc, self._log)})") from None
        self._mux(packets)
        try:
            self.container.close()
            if self._sink is not None:
                self._sink.close()
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(f"{self.name}: finishing the file failed ({reason(exc, self._log)})") from None

    def abort(self) -> None:
        """Close without caring about the result (the caller deletes the file)."""
        close_quietly(self.container)
        if self._sink is not None:
            try:
                self._sink.close()
            except Exception:
                pass
