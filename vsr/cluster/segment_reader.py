"""Reading one segment of a video: the packets ``[first, end)`` of its video stream, decoded.

A :class:`SegmentReader` is a :class:`~vsr.video.reader.VideoReader` whose :meth:`items` yields
only the frames of one :class:`~vsr.cluster.segments.Segment`, read straight from the source file:
packets are demuxed and decoded exactly as in a run over the whole file, so every frame keeps its
timestamp and time base. (Copying the segment into a container of its own first would not keep
them: NUT picks its own time base and shifts negative DTS, Matroska rounds to milliseconds, AVI
has no presentation times.) The other streams are not read here: the join copies them once from
the source.

The reader seeks to the keyframe before the segment and demuxes up to the segment's first packet,
recognised by its byte position and size (or its timestamps); where seeking lands past it, it
reads from the start of the file instead, which is slower but the same. After the segment's last
packet it looks at the next one: where the file ends there, it applies the plain reader's
end-of-file checks (a demuxer that stopped quietly at a truncated end, an incomplete last y4m
frame), as a run over the whole file would.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import av
import av.error

from ..errors import InputError
from ..video.ffmpeg_log import reason
from ..video.reader import VideoReader
from .segments import Segment


class SegmentReader(VideoReader):
    """The frames of ``segment`` of ``source``; nothing of the other streams."""

    def __init__(self, source: str | os.PathLike, segment: Segment, log: list | None = None):
        self.segment = segment
        self._at_end = False  # whether the file ends with the segment (known once it is read)
        super().__init__(source, log)
        self.carried = []
        self.info = replace(self.info, frames=segment.packets)
        self.name = f"{self.source} (segment {segment.index}, packets {segment.first}-{segment.end - 1})"

    def items(self) -> Iterator[av.VideoFrame]:
        """Decoded frames of the segment's packets, in decode order (the decoder flushed at the end)."""
        packets = self._packets()
        try:
            for packet in packets:
                for frame in self.video.decode(packet):
                    self.frames_read += 1
                    yield frame
            for frame in self.video.decode(None):
                self.frames_read += 1
                yield frame
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.name}: corrupt after frame {self.frames_read} ({reason(exc, self._log)})") from None
        if self._at_end:
            self._check_file_end()

    def _check_file_end(self) -> None:
        # The plain reader's checks count the frames of the whole file (y4m: one packet each).
        decoded, self.frames_read = self.frames_read, self.segment.end
        self._check_complete()
        self.frames_read = decoded

    def _packets(self) -> Iterator[av.Packet]:
        segment = self.segment
        found = self._seek_to_start() if segment.first > 0 else self._demux()
        if found is None:  # the seek landed past the segment, or the demuxer cannot seek
            self.container.close()
            self.container = self._open()
            self.video = self._pick_video_stream()
            found = self._demux()
            for _ in range(segment.first):
                if next(found, None) is None:
                    break
        taken = 0
        for packet in found:
            if taken == 0 and not segment.start.matches(packet):
                raise InputError(f"{self.name}: the file changed since the segments were planned (packet {segment.first} differs)")
            yield packet
            taken += 1
            if taken == segment.packets:
                self._at_end = next(found, None) is None
                return
        raise InputError(f"{self.name}: the file ends after {taken} of the segment's {segment.packets} packets (changed or truncated since it was planned)")

    def _demux(self) -> Iterator[av.Packet]:
        try:
            for packet in self.container.demux(self.video):
                if packet.size:
                    yield packet
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.name}: corrupt or truncated ({reason(exc, self._log)})") from None

    def _seek_to_start(self) -> Iterator[av.Packet] | None:
        """Packets from the segment's first one on, after a seek; None if the seek missed it."""
        key = self.segment.start
        stamps = [t for t in (key.pts, key.dts) if t is not None]
        if not stamps:
            return None
        try:
            self.container.seek(min(stamps), stream=self.video, backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError):
            return None
        packets = self._demux()
        for packet in packets:
            if key.matches(packet):
                return _prepend(packet, packets)
            if _past(packet, key):
                return None
        return None


def _past(packet: av.Packet, key) -> bool:
    if key.pos is not None and packet.pos is not None and packet.pos >= 0:
        return packet.pos > key.pos
    return key.dts is not None and packet.dts is not None and packet.dts > key.dts


def _prepend(first: av.Packet, rest: Iterator[av.Packet]) -> Iterator[av.Packet]:
    yield first
    yield from rest
