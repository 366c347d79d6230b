"""Tiny video clips made with PyAV for the video tests, a probe of what a file holds, and test runners."""
from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    b"Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    b"MarginR, MarginV, Encoding\nStyle: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def planes_for(fmt_name: str, width: int, height: int, index: int, seed: int = 0) -> av.VideoFrame:
    """A frame of ``fmt_name`` with smooth content plus noise that changes with ``index``."""
    frame = av.VideoFrame(width, height, fmt_name)
    fmt = frame.format
    rng = np.random.default_rng(seed * 1000 + index)
    for number, plane in enumerate(frame.planes):
        bits = fmt.components[min(number, len(fmt.components) - 1)].bits
        dtype = np.dtype(np.uint8) if bits <= 8 else np.dtype("<u2")
        view = np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
        h, w = plane.height, plane.line_size // dtype.itemsize
        peak = (1 << bits) - 1 if bits > 8 else 255
        lo, hi = (0.1, 0.9) if number == 0 else (0.3, 0.7)
        ramp = np.add.outer(np.linspace(lo, hi, h), np.linspace(0, 0.05 * (index % 5), w)) / 1.05
        values = ramp * peak + rng.normal(0, peak * 0.02, (h, w))
        view[...] = np.clip(np.rint(values), 0, peak).astype(dtype)
    return frame


def rgb_frame(width: int, height: int, index: int, fmt: str = "rgb24") -> tuple[av.VideoFrame, np.ndarray]:
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.stack([xx * 255 / max(width - 1, 1), yy * 255 / max(height - 1, 1), np.full_like(xx, 60 + 20 * index)], -1)
    rgb = np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    return (frame if fmt == "rgb24" else frame.reformat(format=fmt)), rgb


def write_clip(
    path: Path,
    *,
    frames: int = 4,
    width: int = 32,
    height: int = 24,
    pix_fmt: str = "yuv420p",
    codec: str | None = None,
    rate: int = 25,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
    audio: str | None = None,
    audio_rate: int = 48000,
    subtitles: bool = False,
    chapters: bool = False,
    color: tuple[int, int, int, int] | None = None,
    rotation: int | None = None,
    sar: Fraction | None = None,
    metadata: dict | None = None,
    stream_metadata: dict | None = None,
    fmt: str | None = None,
    rgb: bool = False,
    seed: int = 0,
    gop: int | None = None,
) -> Path:
    """Write a small clip; ``pts`` gives each frame's timestamp (VFR) in ``time_base``; ``gop``:
    a keyframe every ``gop`` frames."""
    path = Path(path)
    if codec is None:
        codec = {".y4m": "wrapped_avframe", ".webm": "libvpx-vp9"}.get(path.suffix, "libx264")
    options = {"strict": "-1"} if path.suffix == ".y4m" else {}
    with av.open(str(path), "w", format=fmt, options=options) as out:
        video = out.add_stream(codec, rate=rate, options={"x265-params": "log-level=error"} if codec == "libx265" else {})
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        if gop is not None:
            video.codec_context.gop_size = gop
        if time_base is not None:
            video.codec_context.time_base = time_base
            video.time_base = time_base
        if color:
            ctx = video.codec_context
            ctx.color_primaries, ctx.color_trc, ctx.colorspace, ctx.color_range = color
        if sar:
            video.codec_context.sample_aspect_ratio = sar
        if rotation is not None:
            video.set_display_rotation(rotation)
        video.metadata.update(stream_metadata or {})
        out.metadata.update(metadata or {})
        tb = time_base or Fraction(1, rate)
        seconds = float(((pts[-1] + 1) if pts else frames) * tb)
        if audio:
            sound = out.add_stream(audio, rate=audio_rate)
            sound.layout = "stereo"
            sound.metadata["language"] = "fra"
        if subtitles:
            subs = out.add_stream("subrip")
            subs.codec_context.subtitle_header = ASS_HEADER
            subs.codec_context.time_base = Fraction(1, 1000)
            subs.metadata["language"] = "eng"
        if chapters:
            half = int(seconds * 500)
            out.set_chapters([
                {"id": 1, "start": 0, "end": half, "time_base": Fraction(1, 1000), "metadata": {"title": "first"}},
                {"id": 2, "start": half, "end": 2 * half, "time_base": Fraction(1, 1000), "metadata": {"title": "second"}},
            ])
        for i in range(frames):
            frame = rgb_frame(width, height, i, pix_fmt)[0] if rgb else planes_for(pix_fmt, width, height, i, seed)
            frame.pts = pts[i] if pts else i
            frame.time_base = tb
            if color:
                frame.color_primaries, frame.color_trc, frame.colorspace, frame.color_range = color
            out.mux(video.encode(frame))
        if audio:
            samples = int(seconds * audio_rate)
            t = np.arange(samples) / audio_rate
            wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            chunk = 1024
            fmt_name = sound.codec_context.format.name
            for start in range(0, samples, chunk):
                block = np.stack([wave[start : start + chunk]] * 2)
                if fmt_name in ("s16", "s16p"):
                    block = (block * 32767).astype(np.int16)
                if not fmt_name.endswith("p"):
                    block = block.T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format=fmt_name, layout="stereo")
                frame.sample_rate, frame.pts = audio_rate, start
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
        if subtitles:
            from av.subtitles.subtitle import SubtitleSet

            for k, (start_ms, text) in enumerate([(0, b"first line"), (int(seconds * 500), b"second line")]):
                cue = SubtitleSet.create(text=b"0,0,Default,,0,0,0,," + text, start=0, end=200, pts=start_ms * 1000)
                packet = subs.codec_context.encode_subtitle(cue)
                packet.pts = packet.dts = start_ms
                packet.duration = 200
                packet.time_base = Fraction(1, 1000)
                packet.stream = subs
                out.mux(packet)
        out.mux(video.encode(None))
    return path


def write_audio_only(path: Path) -> Path:
    """A file with one short silent AAC track and no video stream."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=48000)
        stream.layout = "stereo"
        for i in range(3):
            frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 48000, i * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def probe(path: Path) -> dict:
    """What a user (or ffprobe) would check: frames, timestamps, durations, tags, every stream."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        ctx = video.codec_context
        first = None
        times = []
        for frame in container.decode(video):
            first = first or frame
            times.append(frame.pts)
        tb = video.time_base
        rotation = first.rotation if first is not None else None
        info = {
            "format": container.format.name,
            "duration_s": container.duration / av.time_base if container.duration else None,
            "metadata": dict(container.metadata),
            "chapters": [(float(c["start"] * c["time_base"]), c["metadata"].get("title")) for c in container.chapters()],
            "width": ctx.width,
            "height": ctx.height,
            "pix_fmt": ctx.format.name if ctx.format else None,
            "codec": ctx.name,
            "frames": len(times),
            "pts": times,
            "pts_s": [float(p * tb) for p in times],
            "time_base": tb,
            "color": (first.color_primaries, first.color_trc, first.colorspace, first.color_range) if first else None,
            "rotation": rotation,
            "sar": video.sample_aspect_ratio,
            "video_metadata": dict(video.metadata),
            "streams": [],
        }
    with av.open(str(path)) as container:  # reopened rather than seek(0): seeking can skip early packets
        packets: dict[int, list] = {s.index: [] for s in container.streams}
        for packet in container.demux():
            if packet.size:
                packets[packet.stream.index].append(packet)
        for stream in container.streams:
            items = packets[stream.index]
            end = max((float((p.pts + (p.duration or 0)) * p.time_base) for p in items if p.pts is not None), default=None)
            start = min((float(p.pts * p.time_base) for p in items if p.pts is not None), default=None)
            info["streams"].append(
                {
                    "type": stream.type,
                    "codec": stream.codec_context.name if stream.codec_context else None,
                    "packets": len(items),
                    "payload_md5": [hashlib.md5(bytes(p)).hexdigest() for p in items],
                    "start_s": start,
                    "end_s": end,
                    "metadata": dict(stream.metadata),
                }
            )
    return info


def luma_planes(path: Path) -> list[np.ndarray]:
    """The Y plane of every frame, as code values (uint8 or uint16)."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            plane = frame.planes[0]
            dtype = np.dtype(np.uint8) if frame.format.components[0].bits <= 8 else np.dtype("<u2")
            out.append(np.frombuffer(plane, dtype).reshape(plane.height, -1)[:, : plane.width].copy())
    return out


class RepeatRunner:
    """A runner that upscales by pixel repetition: exact, so tests can check every code value."""

    name, device, precision = "repeat", "cpu", "fp32"

    def __init__(self, scale: int = 2, interrupt_after: int | None = None, fail_after: int | None = None):
        self.scale = scale
        self.calls = 0
        self.interrupt_after, self.fail_after = interrupt_after, fail_after

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("runner failed on purpose")
        s = self.scale
        return np.repeat(np.repeat(np.asarray(batch, np.float32), s, axis=1), s, axis=2)


def leftovers(folder: Path, keep: set[str]) -> list[str]:
    """Files in ``folder`` other than ``keep`` (temporary files included: they start with a dot)."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in keep)
