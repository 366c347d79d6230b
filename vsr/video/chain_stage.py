"""The super-resolve stage on a device: integer planes through the frame chain, frames in flight.

Used by :mod:`vsr.video.pipeline` when the runner has a device step (``device_forward``: the torch
CUDA runner, the TensorRT runner) and frames need no tiling. Then the decode thread hands over
integer code planes (:func:`~vsr.video.frames.read_codes`), this stage keeps ``depth`` frames in
flight through :class:`~vsr.video.frames_in_flight.FramesInFlight`, and the encode thread wraps
the integer planes it gets back into frames (:func:`~vsr.video.frames.frame_from_codes`): no
float planes, chroma upscaling or rounding on the CPU.

The first frame goes through the runner's ordinary float path: that call builds the engine and,
under ``--backend auto``, proves the backend (or falls back to the next one, after which the
device step is looked up again). A frame whose model output is not finite (fp16 overflow) is
redone the same way, where the fp32 guard catches it; it then takes the numpy path to the encoder.
"""
from __future__ import annotations

import contextlib
import queue
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..backends.base import first_line
from ..errors import ConfigError
from ..imaging.luma import luma_to_model
from .chroma import ChromaUpscaler
from .frames import PixelLayout, planes_from_codes

if TYPE_CHECKING:  # imported when a ring is opened: the pipeline imports this module without torch
    from .frames_in_flight import FramesInFlight

# Frames in the chain at once: enough to cover copy-in, compute and copy-out of neighbours.
DEPTH = 4
# Queue length between the stages on this path: an encoder's bursts (x264 lookahead, a slow
# keyframe) are absorbed without stalling the GPU; integer 4K planes are 12 MB each.
QUEUE_FRAMES = 8


def _is_out_of_memory(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower()


@contextlib.contextmanager
def _one_line_oom(shape):
    """A device out of memory while collecting (a copy back; rare) as one clear line."""
    try:
        yield
    except RuntimeError as exc:
        if not _is_out_of_memory(exc):
            raise
        height, width = shape
        raise ConfigError(f"out of device memory running whole {width}x{height} frames through the frame chain ({first_line(exc)})") from None


def device_step(runner):
    """The innermost runner with a device step (``device_forward``), through the wrappers (tiling,
    fp16 guard, automatic fallback); None if there is none."""
    node, seen = runner, 0
    while node is not None and seen < 8:
        if callable(getattr(node, "device_forward", None)):
            return node
        node = getattr(node, "inner", None) or getattr(node, "current", None)
        seen += 1
    return None


def _fits_untiled(runner, width: int, height: int) -> bool:
    """Whether no wrapper would tile a ``width`` x ``height`` frame."""
    node, seen = runner, 0
    while node is not None and seen < 8:
        if width * height > getattr(node, "max_pixels", width * height):
            return False
        node = getattr(node, "inner", None) or getattr(node, "current", None)
        seen += 1
    return True


class ChainStage:
    """Runs the super-resolve stage for pictures whose ``luma``/``chroma`` are integer codes
    (``codes`` True); pictures with float planes (RGB input) take the runner's float path."""

    def __init__(self, runner, depth: int = DEPTH):
        self.runner = runner
        self.depth = depth
        self.ring: FramesInFlight | None = None
        self._free: queue.SimpleQueue = queue.SimpleQueue()  # output arrays back from the encoder
        self._proven = False  # a frame went through runner.run (engine built, auto's trial passed)
        self._ring_tried = False
        self.ring_out_of_memory = 0  # times the ring gave way to the float path for lack of memory
        self._in_shape: tuple[int, int] | None = None

    @staticmethod
    def wanted(runner) -> bool:
        return device_step(runner) is not None

    # -- arrays ----------------------------------------------------------------------------------

    def _arrays(self, layout: PixelLayout):
        (sh, sw), chroma = self.ring.output_shapes(*self._in_shape)
        while True:
            try:
                luma, c = self._free.get_nowait()
            except queue.Empty:
                break
            if luma.shape == (sh, sw) and luma.dtype == layout.dtype:
                return luma, c
        return np.empty((sh, sw), layout.dtype), (None if chroma is None else np.empty((2, *chroma), layout.dtype))

    def release(self, picture) -> None:
        """The encoder is done with ``picture``'s planes: keep them for a later frame."""
        if getattr(picture, "codes", False) and self._free.qsize() < self.depth + QUEUE_FRAMES:
            self._free.put((picture.luma, picture.chroma))

    # -- the stage -------------------------------------------------------------------------------

    def _float_path(self, picture, in_layout: PixelLayout) -> None:
        """``picture`` through ``runner.run`` (floats), as the pipeline's ordinary stage runs it."""
        if picture.codes:
            luma, chroma = planes_from_codes(picture.luma, picture.chroma, in_layout)
            picture.luma, picture.chroma, picture.codes = luma_to_model(luma, in_layout.full_range), chroma, False
        picture.luma = self.runner.run(picture.luma[None])[0]

    def _open_ring(self, picture, in_layout: PixelLayout, out_layout: PixelLayout, upscaler: ChromaUpscaler | None) -> None:
        """Set up the ring for frames like ``picture`` (integer planes), if the runner has a device
        step and the frames need no tiling; otherwise every frame stays on the float path."""
        self._ring_tried = True
        node = device_step(self.runner)
        height, width = picture.luma.shape
        if node is None or not _fits_untiled(self.runner, width, height):
            return
        from .frame_chain import FrameChain
        from .frames_in_flight import FramesInFlight

        chain = FrameChain(node.device_forward, self.runner.scale, in_layout, out_layout, upscaler, node.device)
        self.ring = FramesInFlight(chain, self.depth, streams=getattr(node, "device_streams", None))
        self._in_shape = (height, width)

    def run(
        self,
        next_picture: Callable[[], object],
        put: Callable[[object], None],
        is_end: Callable[[object], bool],
        layouts: tuple[PixelLayout, PixelLayout, ChromaUpscaler | None],
        measure: Callable[[str], object],
    ) -> None:
        """The stage's loop: pictures from ``next_picture`` to ``put`` in order, until the end marker."""
        in_layout, out_layout, upscaler = layouts
        while True:
            item = next_picture()
            if is_end(item):
                self._drain(put, in_layout, out_layout, measure)
                put(item)
                return
            if item.codes and self.ring is None and self._proven and not self._ring_tried:
                self._open_ring(item, in_layout, out_layout, upscaler)
            if item.codes and self.ring is not None:
                if self.ring.full:
                    put(self._collect(in_layout, out_layout, measure))
                try:
                    with measure("sr"):
                        self.ring.submit(item.luma, item.chroma, tag=item)
                    continue
                except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is one
                    if not _is_out_of_memory(exc):
                        raise
                # Whole frames do not fit beside the ring's buffers: finish what is in flight,
                # free the ring, and go on frame by frame on the float path, whose tiler
                # retries in smaller tiles. Nothing is lost or reordered.
                self._drain(put, in_layout, out_layout, measure)
                self._close_ring()
            self._drain(put, in_layout, out_layout, measure)  # keep the order
            with measure("sr"):
                self._float_path(item, in_layout)
            self._proven = True
            put(item)

    def _close_ring(self) -> None:
        self.ring, self._ring_tried = None, True
        self.ring_out_of_memory += 1
        import torch  # only reached when a ring existed, so torch is loaded already

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _drain(self, put, in_layout: PixelLayout, out_layout: PixelLayout, measure) -> None:
        while self.ring is not None and len(self.ring):
            put(self._collect(in_layout, out_layout, measure))

    def _collect(self, in_layout: PixelLayout, out_layout: PixelLayout, measure):
        luma, chroma = self._arrays(out_layout)
        with measure("sr"), _one_line_oom(self._in_shape):
            picture, finite = self.ring.collect(luma, chroma)
        if not finite:  # redo in the float path, where the fp32 guard catches it
            self._free.put((luma, chroma))
            with measure("sr"):
                self._float_path(picture, in_layout)
            return picture
        picture.luma, picture.chroma = luma, chroma
        return picture
