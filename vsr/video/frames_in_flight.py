"""Frames in flight: several frames go through the frame chain before the first is collected.

A ring of ``depth`` slots, each with its own host buffers (pinned on CUDA), device buffers, event
and stream (or a shared one: ``streams``). ``submit`` copies a frame's integer planes into the next slot's host buffers and queues,
on that slot's stream, copy-in -> :class:`~vsr.video.frame_chain.FrameChain` -> copy-out, then
returns at once; ``collect`` waits for the oldest slot only (its event, never a device-wide
synchronise) and copies its planes into arrays the caller reuses. With depth >= 2, frame n+1's
copy-in and frame n-1's copy-out overlap frame n's compute, and the host thread keeps decoding
while the GPU works. Only integer planes cross the bus: 1.5 bytes a pixel for 8-bit 4:2:0 instead
of the 8 of float32 luma both ways.

The CUDA-only pieces (pinned memory, streams, events) are the small :class:`_CudaDevice`; on the
CPU :class:`_HostDevice` stands in with plain memory and no-op ordering, so the ring's logic
(order, reuse, draining, dtypes) is tested on the CPU with ``device="cpu"``.
"""
from __future__ import annotations

import contextlib
from collections import deque

import numpy as np
import torch

from .frame_chain import FrameChain, plane_dtype


class _HostDevice:
    """CPU: plain memory, work done at submit, nothing to wait for."""

    def __init__(self, device: torch.device):
        self.device = device

    def host_buffer(self, shape, dtype) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype)

    def new_stream(self):
        return None

    def on(self, stream):
        return contextlib.nullcontext()

    def new_event(self):
        return None

    def record(self, event, stream) -> None:
        pass

    def wait(self, event) -> None:
        pass


class _CudaDevice:
    """CUDA: pinned host memory (asynchronous copies need it), a stream per slot, an event per slot."""

    def __init__(self, device: torch.device):
        self.device = device

    def host_buffer(self, shape, dtype) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, pin_memory=True)

    def new_stream(self):
        # Ordered after what the current stream queued so far (the model's weights, the chain's
        # constants and filter taps): torch's pool streams do not wait for the default stream.
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))
        return stream

    def on(self, stream):
        return torch.cuda.stream(stream)

    def new_event(self):
        return torch.cuda.Event()

    def record(self, event, stream) -> None:
        event.record(stream)

    def wait(self, event) -> None:
        event.synchronize()  # this slot's work only


class _Slot:
    def __init__(self, dev, chain: FrameChain, shape_in: tuple, shape_out: tuple, stream):
        (h, w), chroma_in = shape_in
        (sh, sw), chroma_out = shape_out
        in_dtype, out_dtype = plane_dtype(chain.in_layout), plane_dtype(chain.out_layout)
        self.stream = stream
        self.done = dev.new_event()
        self.host_luma = dev.host_buffer((1, h, w), in_dtype)
        self.host_chroma = dev.host_buffer((1, 2, *chroma_in), in_dtype) if chroma_in else None
        self.out_luma = dev.host_buffer((1, sh, sw), out_dtype)
        self.out_chroma = dev.host_buffer((1, 2, *chroma_out), out_dtype) if chroma_out else None
        self.out_finite = dev.host_buffer((1,), torch.bool)
        self.dev_luma = torch.empty((1, h, w), dtype=in_dtype, device=chain.device)
        self.dev_chroma = torch.empty((1, 2, *chroma_in), dtype=in_dtype, device=chain.device) if chroma_in else None
        self.tag = None


class FramesInFlight:
    """Up to ``depth`` frames in the chain at once; results come back in submission order.

    ``submit(luma, chroma, tag)`` takes (H, W) and (2, Hc, Wc) integer numpy planes (chroma None
    for grey); ``collect(luma_out, chroma_out)`` fills the caller's arrays for the oldest frame and
    returns ``(tag, finite)``. Call ``collect`` when :attr:`full` before submitting more.
    """

    def __init__(self, chain: FrameChain, depth: int = 4, streams: int | None = None):
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.chain = chain
        self.depth = depth
        # Distinct streams (one per slot by default); 1 where the device step must not run
        # concurrently with itself (a TensorRT execution context), slots then share one stream.
        self.streams = max(1, min(depth, streams or depth))
        self._dev = _CudaDevice(chain.device) if chain.device.type == "cuda" else _HostDevice(chain.device)
        self._slots: list[_Slot] = []
        self._shape: tuple | None = None
        self._pending: deque[_Slot] = deque()
        self._next = 0

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.depth

    def __len__(self) -> int:
        return len(self._pending)

    def output_shapes(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int] | None]:
        """((sH, sW), (Hc', Wc') or None) of the planes ``collect`` hands out for an H x W input."""
        s = self.chain.scale
        layout = self.chain.out_layout
        if layout.is_grey:
            return (s * height, s * width), None
        cw, ch = layout.chroma_size(s * width, s * height)
        return (s * height, s * width), (ch, cw)

    def _ring_for(self, luma: np.ndarray, chroma: np.ndarray | None) -> list[_Slot]:
        shape = (luma.shape, None if chroma is None else chroma.shape[1:])
        if shape != self._shape:
            if self._pending:
                raise RuntimeError("the frame size changed with frames in flight; collect them first")
            out = self.output_shapes(*luma.shape)
            if chroma is not None:
                self.chain.prepare(luma.shape, chroma.shape[1:])  # filter taps on the device before any slot stream uses them
            streams = [self._dev.new_stream() for _ in range(self.streams)]
            self._slots = [_Slot(self._dev, self.chain, shape, out, streams[i % self.streams]) for i in range(self.depth)]
            self._shape, self._next = shape, 0
        return self._slots

    @torch.inference_mode()
    def submit(self, luma: np.ndarray, chroma: np.ndarray | None, tag=None) -> None:
        if self.full:
            raise RuntimeError("the ring is full: collect the oldest frame first")
        slots = self._ring_for(luma, chroma)
        slot = slots[self._next]
        self._next = (self._next + 1) % self.depth
        # This slot's previous frame was collected (its event waited), so its buffers are free.
        slot.host_luma[0].numpy()[...] = luma
        if slot.host_chroma is not None:
            slot.host_chroma[0].numpy()[...] = chroma
        with self._dev.on(slot.stream):
            slot.dev_luma.copy_(slot.host_luma, non_blocking=True)
            chroma_in = None
            if slot.dev_chroma is not None:
                slot.dev_chroma.copy_(slot.host_chroma, non_blocking=True)
                chroma_in = slot.dev_chroma
            y, c, finite = self.chain(slot.dev_luma, chroma_in)
            slot.out_luma.copy_(y, non_blocking=True)
            if slot.out_chroma is not None:
                slot.out_chroma.copy_(c, non_blocking=True)
            slot.out_finite.copy_(finite, non_blocking=True)
            self._dev.record(slot.done, slot.stream)
        slot.tag = tag
        self._pending.append(slot)

    def collect(self, luma_out: np.ndarray, chroma_out: np.ndarray | None) -> tuple[object, bool]:
        """Wait for the oldest frame, copy its planes into ``luma_out``/``chroma_out``, and return
        ``(tag, finite)``."""
        slot = self._pending.popleft()
        self._dev.wait(slot.done)
        luma_out[...] = slot.out_luma[0].numpy()
        if chroma_out is not None:
            chroma_out[...] = slot.out_chroma[0].numpy()
        tag, slot.tag = slot.tag, None
        return tag, bool(slot.out_finite[0])
