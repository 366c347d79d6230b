"""The streams that are not the picture: audio, subtitles, attachments, chapters, metadata.

Each input stream other than the upscaled video gets a *route* into the output container:

- **copy** (the rule): packets are muxed unchanged, so sound and subtitles are bit-exact and keep
  their own timestamps; only the container around them changes;
- **re-encode** (when the output container cannot hold the codec, e.g. PCM or AC-3 in WebM,
  SubRip in MP4): audio to the container's usual codec, text subtitles to its subtitle codec;
- **drop** (when nothing else works: y4m holds only video; bitmap subtitles in MP4).

Anything not copied is reported in a note; the pipeline prints the notes as one warning line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import av

from .containers import Y4M

# Re-encoding targets per output format: audio codec (encoder name), text-subtitle encoder.
_AUDIO_ENCODER = {"mp4": "aac", "mov": "aac", "webm": "libopus", "matroska": "flac"}
_SUBTITLE_ENCODER = {"mp4": "mov_text", "mov": "mov_text", "webm": "webvtt", "matroska": "ass"}

# Tags that describe the old file rather than the content (the muxer writes fresh ones).
_STALE_CONTAINER_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands"}
_STALE_STREAM_TAGS = {"encoder", "duration", "number_of_frames", "number_of_bytes", "bps", "_statistics_tags", "_statistics_writing_app", "_statistics_writing_date_utc"}

_MINIMAL_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    b"Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    b"MarginR, MarginV, Encoding\nStyle: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def clean_tags(tags: dict, stale: set[str]) -> dict:
    """``tags`` without the ones that would be wrong in the new file."""
    return {k: v for k, v in tags.items() if k.lower() not in stale}


def copy_stream_settings(source, target) -> None:
    """Stream metadata (language, title, ...) and disposition (default, forced, ...) of ``source``."""
    target.metadata.update(clean_tags(dict(source.metadata), _STALE_STREAM_TAGS))
    try:
        target.disposition = source.disposition
    except (AttributeError, TypeError, ValueError):
        pass


class CopyRoute:
    """Packets muxed as they are (only missing/non-increasing DTS are repaired, as ffmpeg does)."""

    kind = "copy"

    def __init__(self, source, target):
        self.source, self.target = source, target
        self._last_dts = None

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        if packet.dts is None and packet.pts is None:
            if self._last_dts is None:
                return []  # nothing to place it by; only happens before the first timed packet
            packet.dts = self._last_dts + max(packet.duration or 0, 1)
        if packet.dts is None:
            packet.dts = packet.pts
        if packet.pts is None:
            packet.pts = packet.dts
        if self._last_dts is not None and packet.dts <= self._last_dts:
            packet.dts = self._last_dts + 1
            packet.pts = max(packet.pts, packet.dts)
        self._last_dts = packet.dts
        packet.stream = self.target
        return [packet]

    def flush(self) -> list[av.Packet]:
        return []


class AudioRoute:
    """Decode and encode to the codec the container takes; PyAV resamples and re-chunks frames."""

    kind = "audio"

    def __init__(self, source, target):
        self.source, self.target = source, target

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        out = []
        for frame in self.source.decode(packet):
            out.extend(self.target.encode(frame))
        return out

    def flush(self) -> list[av.Packet]:
        out = []
        for frame in self.source.decode(None):
            out.extend(self.target.encode(frame))
        out.extend(self.target.encode(None))
        return out


class SubtitleRoute:
    """Text subtitles decoded to ASS events and encoded with the container's subtitle encoder."""

    kind = "subtitle"

    def __init__(self, source, target):
        self.source, self.target = source, target

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        subtitle = self.source.codec_context.decode2(packet)
        if subtitle is None or len(subtitle) == 0:
            return []
        encoded = self.target.codec_context.encode_subtitle(subtitle)
        encoded.pts = packet.pts
        encoded.dts = packet.dts if packet.dts is not None else packet.pts
        encoded.duration = packet.duration
        encoded.time_base = packet.time_base
        encoded.stream = self.target
        return [encoded]

    def flush(self) -> list[av.Packet]:
        return []


@dataclass
class CarryPlan:
    """Routes by input stream index, and notes on what was not copied."""

    routes: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _codec_name(stream) -> str | None:
    ctx = stream.codec_context
    return ctx.name if ctx is not None else None


def plan_carried_streams(streams, output, format_name: str) -> CarryPlan:
    """Add an output stream (or not) for each of ``streams``; the output container must be fresh."""
    plan = CarryPlan()
    accepted = output.supported_codecs
    for stream in streams:
        label = f"#{stream.index} {stream.type}"
        codec = _codec_name(stream)
        if stream.type == "attachment":
            if format_name == "matroska":
                name = stream.metadata.get("filename", f"attachment{stream.index}")
                output.add_attachment(name, stream.mimetype or "application/octet-stream", stream.data)
            else:
                plan.notes.append(f"{label} ({name_or(stream)}) dropped: {format_name} holds no attachments")
            continue
        if codec is not None and codec in accepted and format_name != Y4M:
            target = output.add_stream_from_template(stream)
            if stream.type == "audio" and stream.codec_context.layout is not None:
                # MP4 and MOV write the speaker layout into the file and fail at the trailer on
                # a count-only one; the packets themselves are unchanged.
                target.codec_context.layout = _ordered_layout(stream.codec_context.layout)
            copy_stream_settings(stream, target)
            plan.routes[stream.index] = CopyRoute(stream, target)
            if stream.type == "video" and not stream.disposition & av.stream.Disposition.attached_pic:
                size = f" {stream.codec_context.width}x{stream.codec_context.height}" if stream.codec_context.width else ""
                plan.notes.append(f"{label} ({codec}{size}) copied as it is, not upscaled: vsr upscales the first video stream only")
            continue
        if format_name == Y4M:
            plan.notes.append(f"{label} ({codec or 'unknown'}) dropped: y4m holds only the picture")
            continue
        if stream.type == "audio" and codec is not None:
            encoder = _AUDIO_ENCODER.get(format_name, output.default_audio_codec)
            target = _add_audio_encoder(output, encoder, stream)
            copy_stream_settings(stream, target)
            plan.routes[stream.index] = AudioRoute(stream, target)
            plan.notes.append(f"{label} {codec} re-encoded to {target.codec_context.name} ({format_name} cannot hold {codec})")
            continue
        if stream.type == "subtitle" and codec is not None and av.codec.Codec(codec, "r").text_sub and format_name in _SUBTITLE_ENCODER:
            encoder = _SUBTITLE_ENCODER[format_name]
            target = output.add_stream(encoder)
            decoder = stream.codec_context
            if not decoder.is_open:
                decoder.open()
            target.codec_context.subtitle_header = decoder.subtitle_header or _MINIMAL_ASS_HEADER
            target.codec_context.time_base = stream.time_base
            copy_stream_settings(stream, target)
            plan.routes[stream.index] = SubtitleRoute(stream, target)
            plan.notes.append(f"{label} {codec} re-encoded to {encoder} ({format_name} cannot hold {codec})")
            continue
        plan.notes.append(f"{label} ({codec or 'unknown codec'}) dropped: {format_name} cannot hold it")
    return plan


def name_or(stream) -> str:
    return stream.metadata.get("filename") or stream.metadata.get("title") or "unnamed"


# The usual speaker order for a channel count, as FFmpeg's own default layouts give it.
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 6: "5.1", 8: "7.1"}


def _ordered_layout(layout):
    """``layout``, or the usual one for its channel count when the source names no speakers.

    PCM in Matroska or WAV may carry only a channel count ("2 channels"); encoders such as AAC
    refuse such a layout, and players would guess the same speakers anyway.
    """
    if all(channel.name != "NONE" for channel in layout.channels):
        return layout
    usual = _DEFAULT_LAYOUTS.get(layout.nb_channels)
    return av.AudioLayout(usual) if usual else layout


def _add_audio_encoder(output, encoder: str, source):
    ctx = source.codec_context
    codec = av.codec.Codec(encoder, "w")
    rates = codec.audio_rates
    rate = ctx.sample_rate if not rates or ctx.sample_rate in rates else max(rates)
    target = output.add_stream(encoder, rate=rate)
    target.layout = _ordered_layout(ctx.layout)
    formats = [f.name for f in (codec.audio_formats or [])]
    if formats:
        target.format = ctx.format.name if ctx.format and ctx.format.name in formats else formats[0]
    return target


def copy_container_settings(source, output, format_name: str, notes: list[str]) -> None:
    """Global metadata and chapters of ``source`` onto ``output`` (before its header is written)."""
    chapters = source.chapters()
    if format_name == Y4M:
        if chapters:
            notes.append(f"{len(chapters)} chapters dropped: y4m holds only the picture")
        return
    output.metadata.update(clean_tags(dict(source.metadata), _STALE_CONTAINER_TAGS))
    if chapters:
        output.set_chapters(chapters)
