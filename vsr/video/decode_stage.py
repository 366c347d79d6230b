"""The pipeline's first stage: decode, put each frame back in presentation order with its own
timestamp, and turn it into planes for the model.

Other streams' packets ride along with the next frame, so the writer muxes them in their original
interleaving. The first frame fixes what every later one must match (its size) and how frames are
read (:class:`~vsr.video.frames.InputPlan`, with the colour tags vsr assumed for untagged input).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import av
import numpy as np

from ..errors import InputError
from ..imaging.luma import luma_to_model
from .frames import InputPlan, display_matrix, output_tags, plan_input, read_codes, read_planes
from .reader import VideoReader
from .stage_threads import Channel
from .stages import StageTimes
from .timestamps import REORDER_WINDOW, TimestampOrder


@dataclass
class Picture:
    """One frame between stages: timing, planes (luma: model domain, chroma: normalised), packets."""

    index: int
    pts: int
    duration: int | None
    luma: np.ndarray
    chroma: np.ndarray | None
    packets: list
    codes: bool = False  # luma/chroma are integer code planes (the device chain's path: chain_stage.py)


@dataclass
class End:
    """The end of the pictures, with the packets of other streams that came after the last one."""

    packets: list


@dataclass
class FirstFrame:
    """What the first frame says about the whole video."""

    plan: InputPlan
    width: int
    height: int
    color_primaries: int
    color_trc: int
    display_matrix: tuple[int, ...] | None


class DecodeStage:
    """Reads ``reader`` into ``out``: a :class:`Picture` per frame, then one :class:`End`.

    ``codes``: hand integer code planes (the device chain rounds and converts on the device)
    instead of float planes, where the frames allow it. :attr:`first` is set at the first frame;
    :attr:`frames_decoded` counts the frames handed on.
    """

    def __init__(self, reader: VideoReader, out: Channel, stages: StageTimes, codes: bool = False):
        self.reader, self.out, self.stages, self.codes = reader, out, stages, codes
        self.first: FirstFrame | None = None
        self.timestamps = TimestampOrder()
        self.frames_decoded = 0

    def run(self) -> None:
        reader, stages = self.reader, self.stages
        items = reader.items()
        packets: list = []
        # Frames wait here a moment for their timestamp (see vsr.video.timestamps).
        window: deque = deque()
        while True:
            with stages.measure("decode"):
                item = next(items, None)
            if item is None:
                break
            if isinstance(item, av.Packet):
                packets.append(item)
                continue
            self._check_size(item, len(window))
            self.timestamps.add(item.pts if item.pts is not None else item.dts)
            window.append((item, packets))
            packets = []
            if len(window) > REORDER_WINDOW:
                self._emit(*window.popleft())
        while window:
            self._emit(*window.popleft())
        self.out.put(End(packets))

    def _check_size(self, frame: av.VideoFrame, waiting: int) -> None:
        if self.first is None:
            plan = plan_input(frame, self.reader.name)
            primaries, trc, space, color_range = output_tags(frame, plan)  # untagged: what vsr assumed
            plan = replace(plan, colorspace=space, color_range=color_range)
            self.first = FirstFrame(plan, frame.width, frame.height, primaries, trc, display_matrix(frame))
        elif (frame.width, frame.height) != (self.first.width, self.first.height):
            raise InputError(
                f"{self.reader.name}: the picture size changes at frame {self.frames_decoded + waiting} "
                f"({self.first.width}x{self.first.height} -> {frame.width}x{frame.height}); not supported"
            )

    def _emit(self, frame: av.VideoFrame, packets: list) -> None:
        plan = self.first.plan
        codes = self.codes and plan.rgb_read is None
        with self.stages.measure("to_tensor"):
            if codes:
                luma, chroma = read_codes(frame, plan)
            else:
                luma, chroma = read_planes(frame, plan)
                luma = luma_to_model(luma, plan.layout.full_range)
        duration = frame.duration or None
        pts = self.timestamps.take(duration)
        self.out.put(Picture(self.frames_decoded, pts, duration, luma, chroma, packets, codes))
        self.frames_decoded += 1


class PictureFeed:
    """The decoded pictures as the model's stage takes them: the first few held back while the
    output is set up from them (:meth:`read_ahead`), then straight from the queue."""

    def __init__(self, decoded: Channel):
        self._decoded = decoded
        self.lookahead: list = []

    def read_ahead(self, count: int) -> list:
        """Wait for up to ``count`` items (fewer at the end); they are handed out again first."""
        self.lookahead = [self._decoded.get()]
        while len(self.lookahead) < count and not isinstance(self.lookahead[-1], End):
            self.lookahead.append(self._decoded.get())
        return list(self.lookahead)

    def next(self, wait: bool = True):
        """The next Picture or End; without ``wait``, None when nothing is ready."""
        if self.lookahead:
            return self.lookahead.pop(0)
        return self._decoded.get() if wait else self._decoded.get_nowait()
