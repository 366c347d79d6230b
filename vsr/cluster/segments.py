"""Planning segments: where a video can be cut, at keyframes, into parts that decode on their own.

The plan is made from the video stream's packets alone (demux, no decode): their keyframe flag,
timestamps and byte position. A segment is a range of packet indices ``[first, end)`` in the
file's own order; a worker decodes exactly those packets (:mod:`vsr.cluster.segment_reader`), so
no frame is re-encoded or re-timed to cut the input.

A keyframe is a *clean* cut when the segments on either side share no frame in presentation order:
every packet before it is shown before it, and none after it is shown before it. That excludes
open-GOP keyframes, whose leading B-frames (after the keyframe in the file, before it on screen)
refer to the previous group of pictures and would not decode in a segment of their own. Segments
are made about ``target`` long (in frames or seconds) by cutting at the first clean keyframe past
the target; a last segment shorter than a quarter of the target is merged into the one before.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from itertools import pairwise

import av
import av.error

from ..errors import ConfigError, InputError
from ..video.ffmpeg_log import captured_ffmpeg_log, reason
from ..video.reader import VideoReader

#: Default segment length when neither frames nor seconds are given.
DEFAULT_SEGMENT_SECONDS = 60.0
# Frames looked at from the start of the file to tell constant from variable frame rate.
_RATE_FRAMES = 8


@dataclass(frozen=True)
class PacketKey:
    """What identifies a packet again after a seek: byte position, size and timestamps."""

    pos: int | None
    size: int
    pts: int | None
    dts: int | None

    def matches(self, packet: av.Packet) -> bool:
        if self.pos is not None and self.pos >= 0 and packet.pos is not None and packet.pos >= 0:
            return packet.pos == self.pos and packet.size == self.size
        return (packet.pts, packet.dts, packet.size) == (self.pts, self.dts, self.size)


@dataclass(frozen=True)
class Segment:
    """Packets ``[first, end)`` of the video stream, starting at the keyframe ``start``;
    ``shown_from``: the presentation timestamp of its first frame shown (time base of the stream)."""

    index: int
    first: int
    end: int
    start: PacketKey
    shown_from: int | None = None

    @property
    def packets(self) -> int:
        return self.end - self.first

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Segment:
        return cls(data["index"], data["first"], data["end"], PacketKey(**data["start"]), data.get("shown_from"))


@dataclass(frozen=True)
class SegmentPlan:
    """The segments of one video, and what every part must share to be joined."""

    segments: tuple[Segment, ...]
    packets: int
    time_base: Fraction
    variable_rate: bool
    last_duration: Fraction | None = None  # seconds the last frame shown lasts, if the file says
    notes: tuple[str, ...] = ()


@dataclass
class _PacketInfo:
    key: PacketKey
    keyframe: bool
    stamp: int | None  # presentation timestamp (pts, else dts)
    duration: int | None


def _read_packets(source: str) -> tuple[list[_PacketInfo], Fraction, Fraction | None]:
    with captured_ffmpeg_log() as log, VideoReader(source, log) as reader:
        stream = reader.video
        packets = []
        try:
            for packet in reader.container.demux(stream):
                if packet.size == 0:
                    continue
                key = PacketKey(packet.pos if packet.pos is not None and packet.pos >= 0 else None, packet.size, packet.pts, packet.dts)
                stamp = packet.pts if packet.pts is not None else packet.dts
                packets.append(_PacketInfo(key, bool(packet.is_keyframe), stamp, packet.duration or None))
        except av.error.FFmpegError as exc:
            raise InputError(f"{reader.name}: corrupt or truncated after packet {len(packets)} ({reason(exc, log)})") from None
        # The plain reader's end-of-file checks: some demuxers (MP4 cut short, Matroska, y4m) stop
        # quietly at a truncated end, which would plan, and upscale, a shorter video. The y4m
        # check counts the frames read: here the packets, one per frame.
        reader.frames_read = len(packets)
        reader._check_complete()
        return packets, reader.info.time_base, reader.info.frame_rate


def _clean_cuts(packets: list[_PacketInfo]) -> list[int]:
    """Indices of keyframes that split presentation order cleanly (see the module docstring).

    A packet without any timestamp cannot be placed, so no cut is proven clean on either side of
    it: it counts as shown at -inf for the packets before it and at +inf for those after it.
    """
    n = len(packets)
    inf = float("inf")
    first_shown_from = [inf] * (n + 1)  # smallest timestamp of packets[i:]
    for i in range(n - 1, -1, -1):
        stamp = packets[i].stamp
        first_shown_from[i] = -inf if stamp is None else min(stamp, first_shown_from[i + 1])
    cuts = []
    last_shown_before = -inf  # largest timestamp of packets[:i]
    for i, info in enumerate(packets):
        if i > 0 and info.keyframe and info.stamp is not None and last_shown_before < info.stamp == first_shown_from[i]:
            cuts.append(i)
        last_shown_before = inf if info.stamp is None else max(last_shown_before, info.stamp)
    return cuts


def _first_shown(packets: list[_PacketInfo]) -> int | None:
    stamps = [p.stamp for p in packets]
    return None if None in stamps else min(stamps)


def _is_variable_rate(packets: list[_PacketInfo]) -> bool:
    # The pipeline's own test (vsr.video.pipeline._is_variable_rate) on the first frames' timestamps.
    stamps = sorted(p.stamp for p in packets if p.stamp is not None)[:_RATE_FRAMES]
    gaps = [b - a for a, b in pairwise(stamps)]
    return bool(gaps) and max(gaps) - min(gaps) > 1


def plan_segments(source: str | os.PathLike, frames: int | None = None, seconds: float | None = None) -> SegmentPlan:
    """Cut ``source``'s video into segments of about ``frames`` frames or ``seconds`` seconds.

    Without either, segments are :data:`DEFAULT_SEGMENT_SECONDS` long. A video with no clean cut
    point gives one segment (with a note). InputError for an unreadable file or one without video.
    """
    if frames is not None and seconds is not None:
        raise ConfigError("give --segment-frames or --segment-seconds, not both")
    if frames is not None and frames < 1:
        raise ConfigError("--segment-frames must be at least 1")
    if seconds is not None and not seconds > 0:
        raise ConfigError("--segment-seconds must be more than 0")
    source = str(source)
    packets, time_base, rate = _read_packets(source)
    if not packets:
        raise InputError(f"{source}: the video stream has no frames")
    if frames is None:
        seconds = Fraction(str(seconds or DEFAULT_SEGMENT_SECONDS))  # exact: 0.4 s is 10 frames at 25 fps
        if any(p.stamp is None for p in packets) and rate:
            frames = max(1, round(seconds * rate))
    cuts = _clean_cuts(packets)
    starts = [0]
    for cut in cuts:
        if frames is not None:
            long_enough = cut - starts[-1] >= frames
        else:
            long_enough = (packets[cut].stamp - packets[starts[-1]].stamp) * time_base >= seconds
        if long_enough:
            starts.append(cut)
    target = frames if frames is not None else (seconds * rate if rate else None)
    if len(starts) > 1 and target and len(packets) - starts[-1] < target / 4:
        starts.pop()
    ends = starts[1:] + [len(packets)]
    segments = tuple(Segment(i, a, b, packets[a].key, _first_shown(packets[a:b])) for i, (a, b) in enumerate(zip(starts, ends)))
    notes: tuple[str, ...] = ()
    if len(segments) == 1 and len(packets) > 1:
        why = "no clean cut at a keyframe" if any(p.keyframe for p in packets[1:]) else "no keyframe after the first"
        notes = (f"{source}: {why}; it is one segment",)
    last = max((p for p in packets if p.stamp is not None), key=lambda p: p.stamp, default=None)
    last_duration = last.duration * time_base if last is not None and last.duration else None
    return SegmentPlan(segments, len(packets), time_base, _is_variable_rate(packets), last_duration, notes)
