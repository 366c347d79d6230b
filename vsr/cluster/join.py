"""Joining part files into the output: their video by stream copy, the source's other streams once.

Every part holds the upscaled frames of one segment, encoded with the same settings, so one codec
configuration (extradata: SPS/PPS for H.264) serves the joined stream; this is checked, since a
part encoded differently would decode wrongly after the join. Video packets are copied part after
part with their timestamps, which are the source's; audio, subtitles, attachments, chapters and
metadata come from the source through the same routes as in a single-machine run
(:mod:`vsr.video.passthrough`), interleaved with the video by time.

The presentation timestamps are copied as they are; the decode timestamps of the joined stream
are worked out again from them, as the encoder would have made them in one run (see
:class:`_Parts`).

The output is written to a hidden temporary file beside the target and renamed over it only when
complete; any error removes it.
"""
from __future__ import annotations

import heapq
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.error

from ..errors import InputError, OutputError
from ..files import atomic_write
from ..video.ffmpeg_log import captured_ffmpeg_log, reason
from ..video.frames import display_matrix
from ..video.output_file import OutputFile
from ..video.reader import VideoReader

# How far a part's first PTS may come back from where its segment starts: MP4 edit lists count
# milliseconds; anything more means the part is not the segment's.
_MAX_START_SHIFT_S = Fraction(1, 1000)
# Tags of the part's video stream that describe how it was made, copied so the joined file says
# what a single-machine run would (the other stream tags come from the source).
_ENCODER_TAGS = ("encoder", "ENCODER")


@dataclass
class JoinResult:
    """The joined file, its video frame count, and notes on streams that were not copied."""

    target: str
    frames: int
    notes: list[str] = field(default_factory=list)


def _packet_time(packet: av.Packet) -> Fraction | None:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return None if stamp is None else stamp * packet.time_base


class _Parts:
    """The video packets of the part files, one part after another, with the joined stream's DTS.

    :meth:`scan` reads every part once without decoding, checks its frame count and works out the
    decode timestamps of the joined stream (:func:`_decode_timestamps`): each part's encoder began
    its DTS as if nothing came before it (a one-frame part has none to reorder, so its DTS equal its
    PTS), which can overlap the previous part's, and Matroska stores no DTS at all (its demuxer
    guesses them per file).

    Two things do not survive a part file exactly, and are put back from the source: ``starts``
    (seconds), when each part's first frame is shown, since MP4 stores a track's start in an edit
    list counted in milliseconds, so a part's PTS come back shifted by up to half of one (the
    shift is undone per part, and the joined file gets the same rounding once, like a single-run
    file); and ``last_duration`` (seconds), the duration of the last frame shown, which Matroska
    gives back rounded down to its millisecond.
    """

    def __init__(self, parts: list[Path], frames: list[int] | None, starts: list[Fraction] | None, last_duration: Fraction | None):
        self.parts, self.frames, self.starts, self.last_duration = parts, frames, starts, last_duration
        self.count = 0
        self._shifts: list[int] = []
        self._dts: list[int] = []
        self._last_shown = -1

    def scan(self) -> None:
        presentation: list[int] = []
        delay = 0
        for number, part in enumerate(self.parts):
            stamps, decode = [], []
            time_base = None
            for packet, container in self._demux(part):
                time_base = packet.time_base
                if packet.pts is None:
                    raise InputError(f"{part}: a video packet without timestamp; the parts cannot be joined")
                stamps.append(packet.pts)
                if "matroska" not in container.format.name:
                    decode.append(packet.dts)
            if self.frames is not None and len(stamps) != self.frames[number]:
                raise InputError(f"{part}: holds {len(stamps)} frames, {self.frames[number]} were written (changed since)")
            # The encoder's reorder delay: packets it put before its first presentation time.
            first = min(stamps, default=0)
            delay = max(delay, sum(1 for dts in decode if dts is not None and dts < first))
            shift = self._shift(number, first, time_base)
            self._shifts.append(shift)
            presentation.extend(pts + shift for pts in stamps)
        self.count = len(presentation)
        self._dts = _decode_timestamps(presentation, delay)
        self._last_shown = max(range(len(presentation)), key=presentation.__getitem__, default=-1)

    def _shift(self, number: int, first: int, time_base: Fraction | None) -> int:
        if self.starts is None or time_base is None:
            return 0
        shift = _nearest(self.starts[number] / time_base) - first
        if abs(shift * time_base) > _MAX_START_SHIFT_S:
            raise InputError(
                f"{self.parts[number]}: starts at {float(first * time_base):.6f} s, its segment at "
                f"{float(self.starts[number]):.6f} s (changed since it was written)"
            )
        return shift

    def packets(self) -> Iterator[av.Packet]:
        index = 0
        for number, part in enumerate(self.parts):
            for packet, _container in self._demux(part):
                packet.pts += self._shifts[number]
                packet.dts = self._dts[index]
                if index == self._last_shown and self.last_duration:
                    # Rounded to the nearest tick, as FFmpeg rescales the writer's own durations.
                    packet.duration = _nearest(self.last_duration / packet.time_base)
                index += 1
                yield packet

    def _demux(self, part: Path):
        try:
            with av.open(str(part)) as container:
                stream = container.streams.video[0]
                for packet in container.demux(stream):
                    if packet.size:
                        yield packet, container
        except av.error.FFmpegError as exc:
            raise InputError(f"{part}: part file unreadable ({reason(exc)})") from None


def _nearest(value: Fraction) -> int:
    """``value`` rounded half away from zero, as FFmpeg rescales timestamps (AV_ROUND_NEAR_INF)."""
    return math.floor(value + Fraction(1, 2)) if value >= 0 else -math.floor(-value + Fraction(1, 2))


def _decode_timestamps(presentation: list[int], delay: int = 0) -> list[int]:
    """DTS for packets with these PTS in decode order: increasing, and never after their PTS.

    As x264 and x265 make them: the ``i``-th packet decodes at the ``(i - delay)``-th presentation
    time, ``delay`` being the encoder's reorder delay (at least the largest reordering seen), and
    the first ``delay`` packets that far ahead of their own rank:
    ``dts[i] = shown[i] - (shown[delay] - shown[0])``.
    """
    shown = sorted(presentation)
    rank = {pts: i for i, pts in enumerate(shown)}
    delay = min(len(shown) - 1, max([delay] + [i - rank[pts] for i, pts in enumerate(presentation)]))
    lead = shown[delay] - shown[0] if shown else 0
    return [shown[i - delay] if i >= delay else shown[i] - lead for i in range(len(presentation))]


def _merge(*sources: Iterator[av.Packet]) -> Iterator[tuple[int, av.Packet]]:
    """``(source number, packet)`` from several time-ordered iterators, in time order."""
    heads: list = []
    for order, source in enumerate(sources):
        _push(heads, source, order)
    while heads:
        _when, order, packet, source = heapq.heappop(heads)
        yield order, packet
        _push(heads, source, order)


def _push(heads: list, source: Iterator[av.Packet], order: int) -> None:
    packet = next(source, None)
    if packet is not None:
        when = _packet_time(packet)
        # Untimed packets go out at once; ties keep the sources' order (video first).
        heapq.heappush(heads, (float("-inf") if when is None else when, order, packet, source))


def _carried_packets(reader: VideoReader, routed: set[int]) -> Iterator[av.Packet]:
    streams = [s for s in reader.carried if s.index in routed]
    if not streams:
        return
    try:
        for packet in reader.container.demux(streams):
            if packet.size or packet.dts is not None:
                yield packet
    except av.error.FFmpegError as exc:
        raise InputError(f"{reader.name}: corrupt or truncated ({reason(exc)})") from None


def join_parts(
    source: str | os.PathLike,
    parts: list[Path],
    target: str | os.PathLike,
    format_name: str,
    frames: list[int] | None = None,
    starts: list[Fraction] | None = None,
    last_duration: Fraction | None = None,
) -> JoinResult:
    """Join ``parts`` (part files of ``source``'s segments, in order) into ``target``.

    ``format_name`` is the muxer (:func:`vsr.video.encoder.output_format` of the target);
    ``frames``, when given, is each part's frame count as written, checked before copying;
    ``starts`` (seconds) is when each part's first frame is shown in the source and
    ``last_duration`` (seconds) how long the source's last frame lasts (see :class:`_Parts`).
    Raises InputError (a part or the source unreadable) or OutputError; nothing is left at
    ``target`` on failure.
    """
    if not parts:
        raise OutputError(f"{target}: no parts to join")
    target = Path(target)
    with atomic_write(target) as temp, captured_ffmpeg_log() as log:
        return _join(str(source), parts, temp, str(target), format_name, _Parts(parts, frames, starts, last_duration), log)


def _join(source: str, parts: list[Path], temp: Path, name: str, format_name: str, copied: _Parts, log) -> JoinResult:
    with VideoReader(source, log) as reader, av.open(str(parts[0])) as first:
        template = first.streams.video[0]
        _check_same_encoding(template, parts[1:])
        output = OutputFile(str(temp), format_name, name, log)
        with output.aborted_on_error(lambda exc: OutputError(f"{name}: joining the parts failed ({reason(exc, log)})")):
            video = output.add_copied_video(template)
            if reader.info.frame_rate:
                # The stream's average rate (Matroska's default duration) is taken from here.
                video.codec_context.framerate = reader.info.frame_rate
            matrix = _first_display_matrix(parts[0])
            if matrix is not None:
                video.set_display_matrix(list(matrix))
            output.carry_from(reader, video)
            for tag in _ENCODER_TAGS:
                if tag in template.metadata:
                    video.metadata[tag] = template.metadata[tag]
            output.start()
            copied.scan()
            for origin, packet in _merge(copied.packets(), _carried_packets(reader, set(output.plan.routes))):
                if origin == 0:
                    packet.stream = video
                    output.mux([packet])
                else:
                    output.carry(packet)
            output.flush_carried()
            output.close()
    return JoinResult(name, copied.count, output.notes)


def _first_display_matrix(part: Path) -> tuple[int, ...] | None:
    with av.open(str(part)) as container:
        for frame in container.decode(video=0):
            return display_matrix(frame)
    return None


def _check_same_encoding(template, others: list[Path]) -> None:
    want = (template.codec_context.name, template.codec_context.extradata, template.codec_context.width, template.codec_context.height)
    for part in others:
        with av.open(str(part)) as container:
            ctx = container.streams.video[0].codec_context
            if (ctx.name, ctx.extradata, ctx.width, ctx.height) != want:
                raise OutputError(f"{part}: encoded with other settings than the first part; the parts cannot be joined")


