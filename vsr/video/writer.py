"""Writing the upscaled video: container from the extension, encoder, pixel format, tags.

The output container is chosen by extension (``.mp4 .m4v .mkv .mov .webm .y4m``; ``-`` is y4m on
stdout). The encoder is libx264 unless ``codec`` says otherwise (libvpx-vp9 for WebM, raw for y4m);
libx265, libsvtav1, libvpx-vp9, ffv1 and the NVENC encoders (where FFmpeg and a GPU have them)
take ``crf`` and ``preset`` in their own dialect. The pixel format is the input's when the encoder
takes it, so 10-bit stays 10-bit; otherwise the nearest one it takes, with a note.

The video stream carries the input's colour tags (primaries, transfer, matrix, range), sample
aspect ratio, display matrix (rotation) and stream metadata; :mod:`vsr.video.passthrough` adds the
other streams, chapters and global metadata.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error

from ..errors import ConfigError, OutputError
from .containers import Y4M
from .ffmpeg_log import reason
from .frames import PixelLayout
from .passthrough import CarryPlan, copy_container_settings, copy_stream_settings, plan_carried_streams

#: Output extension -> FFmpeg muxer.
FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm", ".y4m": Y4M}
_DEFAULT_ENCODER = {"webm": "libvpx-vp9", Y4M: "wrapped_avframe"}
_RAW_NAMES = (None, "rawvideo", "wrapped_avframe", "raw")
# Encoders that refuse odd widths/heights with subsampled chroma.
_EVEN_SIZE_ENCODERS = {"libx264", "libx265", "h264_nvenc", "hevc_nvenc", "av1_nvenc"}
_BITS = (8, 9, 10, 12, 14, 16)
# What FFmpeg's y4m muxer writes (high bit depths need strict=-1; y4m readers know them).
_Y4M_PIX_FMTS = tuple(
    PixelLayout(bits, shift).pix_fmt for bits in _BITS for shift in (None, (1, 1), (1, 0), (0, 0))
)


#: What vsr writes to stdout (``-``), by ``--format`` name: muxers that never seek back (NUT and
#: Matroska carry timestamps, audio and subtitles; y4m only pictures). MP4/MOV need seeking.
PIPE_FORMATS = {"y4m": Y4M, Y4M: Y4M, "nut": "nut", "matroska": "matroska", "mkv": "matroska"}


def output_format(target: str | Path, container_format: str | None = None) -> str:
    """The FFmpeg muxer for ``target``: from its extension, or for ``-`` (stdout) ``container_format``
    (default y4m); OutputError for an extension or pipe format vsr cannot write."""
    if str(target) == "-":
        if container_format is None:
            return Y4M
        name = PIPE_FORMATS.get(container_format.lower())
        if name is None:
            seeks = " (it seeks back to finish the file, which a pipe cannot)" if container_format.lower() in ("mp4", "mov", "m4v") else ""
            raise OutputError(f"--format {container_format} cannot be written to stdout{seeks}; use y4m, nut or matroska")
        return name
    if container_format is not None:
        raise ConfigError(f"--format goes with - (stdout); {target} gets the format of its extension")
    ext = Path(target).suffix.lower()
    if ext not in FORMATS:
        known = " ".join(sorted(FORMATS))
        raise OutputError(f"{target}: vsr cannot write video with extension {ext or '(none)'}; use one of {known}, or - for y4m on stdout")
    return FORMATS[ext]


@dataclass(frozen=True)
class Encoder:
    """An FFmpeg video encoder, its options (crf/preset in its dialect), and the formats it takes."""

    name: str
    options: dict
    pix_fmts: tuple[str, ...]

    def settings(self) -> dict:
        """What the encoder runs with, its own defaults included (for the closing report)."""
        shown = {k: v for k, v in self.options.items() if k != "x265-params"}  # that one only quiets x265's log
        return {**ENCODER_DEFAULTS.get(self.name, {}), **shown}


#: What an encoder does when --crf/--preset are not given: its own defaults, which vsr leaves
#: alone (it passes nothing), stated here for --help and the closing report.
ENCODER_DEFAULTS = {
    "libx264": {"crf": "23", "preset": "medium"},
    "libx265": {"crf": "28", "preset": "medium"},
}


def _supported_codecs(format_name: str) -> set[str]:
    with av.open(io.BytesIO(), "w", format=format_name) as probe:
        return set(probe.supported_codecs)


def choose_encoder(format_name: str, codec: str | None = None, crf: float | None = None, preset: str | None = None) -> Encoder:
    """Validate ``codec``/``crf``/``preset`` for ``format_name`` and translate them; ConfigError if they cannot work."""
    if format_name == Y4M:
        if codec not in _RAW_NAMES:
            raise ConfigError(f"y4m output is uncompressed; --codec {codec} needs a .mp4, .mkv, .mov or .webm output")
        if crf is not None or preset is not None:
            raise ConfigError("--crf and --preset do not apply to y4m output (it is uncompressed)")
        return Encoder("wrapped_avframe", {}, _Y4M_PIX_FMTS)
    name = codec or _DEFAULT_ENCODER.get(format_name, "libx264")
    try:
        found = av.codec.Codec(name, "w")
    except Exception:
        raise ConfigError(f"unknown video encoder {name!r}; try libx264, libx265, libsvtav1, libvpx-vp9 or ffv1") from None
    if found.type != "video":
        raise ConfigError(f"{name} is a {found.type} encoder, not a video one")
    accepted = _supported_codecs(format_name)
    if name not in accepted and found.canonical_name not in accepted:
        raise ConfigError(f"the {format_name} container cannot hold {name} video; pick another --codec or output extension")
    _check_crf_preset(name, crf, preset)
    options: dict[str, str] = {}
    if name == "libx265":
        options["x265-params"] = "log-level=error"  # x265 prints its banner straight to stderr otherwise
    if name == "libvpx-vp9":
        # Constant quality; libvpx's default is a fixed 256 kb/s, far too little for upscaled video.
        options.update({"b": "0", "crf": "31"})
    if crf is not None:
        if crf != int(crf) and name not in _FRACTIONAL_CRF and not name.endswith("_nvenc"):
            raise ConfigError(f"--crf {crf:g}: {name} takes a whole number (fractions go with libx264, libx265 and NVENC)")
        text = f"{crf:g}"  # 23 stays "23", 20.5 stays "20.5"
        if name in ("libx264", "libx265", "libsvtav1", "libvpx-vp9"):
            options["crf"] = text
        elif name.endswith("_nvenc"):
            options.update({"rc": "vbr", "cq": text})
        elif found.lossless and not found.lossy:
            raise ConfigError(f"{name} is lossless; --crf does not apply")
        else:
            raise ConfigError(f"--crf is not supported with {name}")
    if preset is not None:
        if name == "libvpx-vp9":
            options["deadline" if preset in ("good", "best", "realtime") else "cpu-used"] = preset
        elif name in ("libx264", "libx265", "libsvtav1") or name.endswith("_nvenc"):
            options["preset"] = str(preset)
        else:
            raise ConfigError(f"--preset is not supported with {name}")
    return Encoder(name, options, tuple(f.name for f in (found.video_formats or ())))


# Valid --crf ranges and --preset names, checked here because some encoders print their own
# complaint straight to stderr (x264 does for a bad preset) before FFmpeg's error comes back.
_CRF_RANGE = {"libx264": (0, 51), "libx265": (0, 51), "libsvtav1": (0, 63), "libvpx-vp9": (0, 63)}
# Encoders whose quality option is a float in FFmpeg (x264's and x265's crf; NVENC's cq).
_FRACTIONAL_CRF = {"libx264", "libx265"}
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
_PRESETS = {
    "libx264": _X26X_PRESETS,
    "libx265": _X26X_PRESETS,
    "libsvtav1": tuple(str(n) for n in range(-1, 14)),
    "libvpx-vp9": ("good", "best", "realtime", *(str(n) for n in range(-8, 9))),
}


def _check_crf_preset(name: str, crf: float | None, preset: str | None) -> None:
    if crf is not None and name.endswith("_nvenc"):
        low, high = 0, 51
    else:
        low, high = _CRF_RANGE.get(name, (None, None))
    if crf is not None and low is not None and not low <= crf <= high:
        raise ConfigError(f"--crf {crf:g} is out of range for {name} ({low}-{high})")
    choices = _PRESETS.get(name) or (tuple(f"p{n}" for n in range(1, 8)) if name.endswith("_nvenc") else None)
    if preset is not None and choices is not None and str(preset) not in choices:
        raise ConfigError(f"--preset {preset} is not a {name} preset; use one of {', '.join(choices)}")


def _size_ok(encoder: Encoder, layout: PixelLayout, width: int, height: int) -> bool:
    if encoder.name not in _EVEN_SIZE_ENCODERS or layout.is_grey:
        return True
    sx, sy = layout.chroma_shift
    return not (sx and width % 2) and not (sy and height % 2)


# H.264/HEVC in MP4/MOV is played (browsers, phones, QuickTime, hardware decoders) at 4:2:0 only;
# 4:4:4 there needs the High 4:4:4 / RExt profiles few players have. RGB input (screen captures,
# PNG/TIFF sequences, raw RGB) would otherwise come out 4:4:4.
_PLAYABLE_420_FORMATS = ("mp4", "mov")
_PLAYABLE_420_ENCODERS = {"libx264", "libx265", "h264_nvenc", "hevc_nvenc"}


def choose_layout(
    encoder: Encoder,
    source: PixelLayout,
    width: int,
    height: int,
    requested: str | None = None,
    format_name: str | None = None,
    rgb_source: bool = False,
) -> tuple[PixelLayout, str | None]:
    """The output layout (the input's when the encoder takes it) and a note when it differs.

    ``rgb_source``: the input was RGB (read as 4:4:4 YCbCr); written as H.264/HEVC into MP4/MOV it
    becomes the widely playable 4:2:0, with a note; ``requested`` (--pix-fmt) still wins.
    """
    if requested:
        layout = PixelLayout.from_pix_fmt(requested, source.full_range)
        if layout is None:
            raise ConfigError(f"--pix-fmt {requested}: vsr writes planar yuv420p/yuv422p/yuv444p or gray, 8 to 16 bits (e.g. yuv420p10le)")
        if requested not in encoder.pix_fmts:
            raise ConfigError(f"{encoder.name} cannot encode {requested}; it takes {', '.join(encoder.pix_fmts)}")
        if not _size_ok(encoder, layout, width, height):
            raise ConfigError(f"{encoder.name} cannot encode {requested} at {width}x{height} (odd size); use yuv444p")
        return layout, None
    if rgb_source and format_name in _PLAYABLE_420_FORMATS and encoder.name in _PLAYABLE_420_ENCODERS:
        for bits in dict.fromkeys([source.bits, 10, 8]):
            layout = PixelLayout(bits, (1, 1), source.full_range)
            if layout.pix_fmt in encoder.pix_fmts and _size_ok(encoder, layout, width, height):
                return layout, (f"RGB input written as {layout.pix_fmt}, the 4:2:0 that players take in {format_name} "
                                f"(--pix-fmt {source.pix_fmt} keeps full-resolution colour)")
    shifts = [source.chroma_shift, (1, 1), (1, 0), (0, 0)]
    deeper = [b for b in _BITS if b > source.bits]
    shallower = [b for b in reversed(_BITS) if b < source.bits]
    for shift in dict.fromkeys(shifts):
        for bits in [source.bits, *deeper, *shallower]:
            layout = PixelLayout(bits, shift, source.full_range)
            if layout.pix_fmt in encoder.pix_fmts and _size_ok(encoder, layout, width, height):
                if layout.pix_fmt == source.pix_fmt:
                    return layout, None
                why = "odd size" if not _size_ok(encoder, PixelLayout(source.bits, source.chroma_shift), width, height) else "nearest format it takes"
                return layout, f"{source.pix_fmt} written as {layout.pix_fmt} ({encoder.name}: {why})"
    raise ConfigError(f"{encoder.name} takes none of the pixel formats vsr writes ({', '.join(encoder.pix_fmts) or 'none listed'})")


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
        try:
            self.container.mux(packets)
        except av.error.FFmpegError as exc:
            raise OutputError(f"{self.name}: writing failed ({reason(exc, self._log)})") from None
        except OSError as exc:
            raise OutputError(f"{self.name}: writing failed ({exc.strerror or exc})") from None

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
        try:
            self.container.close()
        except Exception:
            pass
        if self._sink is not None:
            try:
                self._sink.close()
            except Exception:
                pass
