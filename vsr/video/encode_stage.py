"""The pipeline's last stage: upscaled pictures back into frames, encoded and muxed with the
other streams' packets that rode along with them."""
from __future__ import annotations

from collections.abc import Callable

import av

from ..imaging.luma import luma_from_model
from .chroma import ChromaUpscaler
from .decode_stage import End, Picture
from .frames import PixelLayout, frame_from_codes, make_frame
from .stages import StageTimes
from .writer import VideoWriter


class FrameMaker:
    """An output frame from a picture: luma back from the model's range, chroma upscaled
    (``upscaler`` None: grey in or out), in ``out_layout``. Integer code planes, which the
    device chain has rounded already, go straight into a frame; ``release(picture)`` then gives
    their buffers back to the chain."""

    def __init__(self, in_layout: PixelLayout, out_layout: PixelLayout, upscaler: ChromaUpscaler | None, release: Callable[[Picture], None] | None = None):
        self.in_layout, self.out_layout, self.upscaler, self._release = in_layout, out_layout, upscaler, release

    def __call__(self, picture: Picture) -> av.VideoFrame:
        if picture.codes:
            frame = frame_from_codes(picture.luma, picture.chroma, self.out_layout)
            if self._release is not None:
                self._release(picture)
            return frame
        luma = luma_from_model(picture.luma, self.in_layout.full_range)
        chroma = None
        if self.upscaler is not None and picture.chroma is not None:
            height, width = luma.shape
            chroma = self.upscaler(picture.chroma, self.out_layout.chroma_size(width, height))
        return make_frame(luma, chroma, self.out_layout)


def encode_pictures(get: Callable[[], object], writer: VideoWriter, make_frame: FrameMaker, stages: StageTimes, on_frame: Callable[[], None]) -> None:
    """Take pictures from ``get`` until the End, write each (``on_frame()`` after it), then close
    ``writer``."""
    while True:
        item = get()
        with stages.measure("encode"):
            for packet in item.packets:
                writer.carry(packet)
        if isinstance(item, End):
            with stages.measure("encode"):
                writer.close()
            return
        with stages.measure("to_frame"):
            frame = make_frame(item)
        with stages.measure("encode"):
            writer.write(frame, item.pts, item.duration)
        stages.frames += 1
        on_frame()
