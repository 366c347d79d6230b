"""Choosing how the upscaled video is written: container, encoder, its settings, pixel format.

The output container is chosen by extension (``.mp4 .m4v .mkv .mov .webm .y4m``; ``-`` is y4m on
stdout, or ``--format``). The encoder is libx264 unless ``codec`` says otherwise (libvpx-vp9 for
WebM, raw for y4m); libx265, libsvtav1, libvpx-vp9, ffv1 and the NVENC encoders (where FFmpeg and a
GPU have them) take ``crf`` and ``preset`` in their own dialect. The pixel format is the input's when
the encoder takes it, so 10-bit stays 10-bit; otherwise the nearest one it takes, with a note.

Only policy: nothing here opens a file or an encoder, or changes the process (the muxer,
:mod:`vsr.video.writer`, does that).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av

from ..errors import ConfigError, OutputError
from .containers import Y4M
from .frames import PixelLayout


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

    @property
    def thread_type(self) -> str | None:
        """How the encoder is asked to thread, where vsr decides: libx264 threads across frames,
        as FFmpeg's command line has it. PyAV asks every encoder for slice threads, which makes
        x264 split each frame into slices: a different output from FFmpeg's, and one that varied
        from run to run here (3 of 5 runs of the same job differed). None: PyAV's default."""
        return "FRAME" if self.name == "libx264" else None

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
