"""CUDA execution with copies overlapped with compute, for the torch and TensorRT backends.

A batch is cut into chunks (one 1080p frame, or several small ones). Each chunk goes through three
CUDA streams: host-to-device copy, compute, device-to-host copy, ordered by events. Two sets of
buffers (slots) alternate, so while chunk n computes, chunk n+1 is copied in and chunk n-1 copied
out, and the host copies between numpy arrays and pinned (page-locked) staging buffers meanwhile.
Pinned buffers and device buffers are allocated once per input shape and reused.

Not run on the machine this was written on (no GPU); it follows the documented torch.cuda API
(``Stream``, ``Event``, ``Tensor.record_stream``, ``CUDAGraph``).
"""
from __future__ import annotations

import contextlib
import copy
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .base import OutOfMemory, check_batch, first_line, output_for
from .torch_precision import DTYPES, ieee_fp32

# LR pixels per chunk: enough to fill a GPU with small frames, one frame at 1080p and above.
CHUNK_PIXELS = 2_000_000


class _Slot:
    """One set of buffers for one chunk in flight, and the events that say when each is free."""

    def __init__(self, k: int, h: int, w: int, scale: int, device: torch.device):
        self.pinned_in = torch.empty((k, h, w), dtype=torch.float32, pin_memory=True)
        self.pinned_out = torch.empty((k, scale * h, scale * w), dtype=torch.float32, pin_memory=True)
        self.finite = torch.empty((k,), dtype=torch.bool, pin_memory=True)
        self.device_in = torch.empty((k, 1, h, w), dtype=torch.float32, device=device)
        self.copied_in = torch.cuda.Event()
        self.computed = torch.cuda.Event()
        self.copied_out = torch.cuda.Event()
        self.result: torch.Tensor | None = None  # device output, alive until its copy-out is done
        self.frames = 0
        self.start = 0


class CudaPipeline:
    """Runs ``compute(device_in) -> device_out`` over a batch with overlapped copies.

    ``compute`` is called on the compute stream with a (k, 1, h, w) float32 device tensor and returns
    a (k, 1, s*h, s*w) float32 device tensor.
    """

    def __init__(self, device: torch.device, scale: int, compute: Callable[[torch.Tensor], torch.Tensor]):
        self.device = device
        self.scale = scale
        self.compute = compute
        self.h2d = torch.cuda.Stream(device)
        self.main = torch.cuda.Stream(device)
        self.d2h = torch.cuda.Stream(device)
        self.max_chunk: int | None = None  # a TensorRT profile's batch
        self._shape: tuple[int, int, int] | None = None
        self._slots: list[_Slot] = []

    @staticmethod
    def frames_per_chunk(h: int, w: int) -> int:
        return max(1, CHUNK_PIXELS // (h * w))

    def chunk_frames(self, h: int, w: int) -> int:
        k = self.frames_per_chunk(h, w)
        return k if self.max_chunk is None else max(1, min(k, self.max_chunk))

    def _slots_for(self, k: int, h: int, w: int) -> list[_Slot]:
        if self._shape != (k, h, w):
            self.release()
            self._slots = [_Slot(k, h, w, self.scale, self.device) for _ in range(2)]
            self._shape = (k, h, w)
        return self._slots

    def release(self) -> None:
        """Drop the buffers (after the device finished with them)."""
        if self._slots:
            torch.cuda.synchronize(self.device)
        self._slots, self._shape = [], None

    def run_or_release(self, batch: np.ndarray, out: np.ndarray) -> np.ndarray:
        """:meth:`run`, but a CUDA out-of-memory drops the buffers and the allocator's cache and
        becomes :class:`OutOfMemory`, so the tiler can retry in smaller tiles."""
        try:
            return self.run(batch, out)
        except torch.cuda.OutOfMemoryError as exc:
            self.release()
            torch.cuda.empty_cache()
            raise OutOfMemory(first_line(exc)) from None

    def run(self, batch: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Fill ``out`` from ``batch``; returns (N,) bool, which frames were finite."""
        n, h, w = batch.shape
        # Buffers sized for a full chunk whatever this batch's n, so batches of varying length
        # reuse them (allocating pinned memory is slow).
        slots = self._slots_for(self.chunk_frames(h, w), h, w)
        k = min(n, self.chunk_frames(h, w))
        finite = np.ones(n, dtype=bool)
        pending: _Slot | None = None
        for index, start in enumerate(range(0, n, k)):
            slot = slots[index % 2]
            frames = min(k, n - start)
            # The pinned input was last read by chunk index-2's copy-in; wait for that copy only.
            slot.copied_in.synchronize()
            slot.pinned_in[:frames].numpy()[...] = batch[start : start + frames]
            with torch.cuda.stream(self.h2d):
                # The device input was last read by chunk index-2's compute.
                self.h2d.wait_event(slot.computed)
                slot.device_in[:frames, 0].copy_(slot.pinned_in[:frames], non_blocking=True)
                slot.copied_in.record(self.h2d)
            with torch.cuda.stream(self.main):
                self.main.wait_event(slot.copied_in)
                result = self.compute(slot.device_in[:frames])
                flags = torch.isfinite(result.view(frames, -1).sum(dim=1))
                slot.computed.record(self.main)
            with torch.cuda.stream(self.d2h):
                self.d2h.wait_event(slot.computed)
                slot.pinned_out[:frames].copy_(result[:, 0], non_blocking=True)
                slot.finite[:frames].copy_(flags, non_blocking=True)
                slot.copied_out.record(self.d2h)
            # Made on the compute stream, read on the copy-out stream: tell the caching allocator,
            # so the memory is not handed out again before the copy is done.
            result.record_stream(self.d2h)
            flags.record_stream(self.d2h)
            slot.result, slot.frames, slot.start = result, frames, start
            if pending is not None:
                self._collect(pending, out, finite)
            pending = slot
        if pending is not None:
            self._collect(pending, out, finite)
        return finite

    def _collect(self, slot: _Slot, out: np.ndarray, finite: np.ndarray) -> None:
        slot.copied_out.synchronize()
        a, b = slot.start, slot.start + slot.frames
        out[a:b] = slot.pinned_out[: slot.frames].numpy()
        finite[a:b] = slot.finite[: slot.frames].numpy()
        slot.result = None


class TorchCudaRunner:
    """A torch model on one CUDA GPU in fp32, fp16 or bf16, run through :class:`CudaPipeline`."""

    def __init__(self, model: nn.Module, backend):
        self.backend = backend
        self.name = backend.name
        self.device = backend.device
        self.precision = backend.precision
        self.scale = model.scale
        self._device = torch.device(backend.device)
        self._dtype = DTYPES[backend.precision]
        channels_last = True if backend.channels_last is None else backend.channels_last
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        net = copy.deepcopy(model).eval().to(device=self._device, dtype=self._dtype, memory_format=self._memory_format)
        for p in net.parameters():
            p.requires_grad_(False)
        self.model = torch.compile(net) if backend.compile else net
        self._graphs: dict[tuple[int, tuple[int, ...]], tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}
        self.pipeline = CudaPipeline(self._device, self.scale, self._compute)
        # The device step the video pipeline's frame chain calls on its own streams
        # (vsr/video/chain_stage.py): (k, 1, h, w) float32 on this device -> float32 output.
        self.device_forward = self._forward

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        return True

    def stats(self) -> dict:
        return {}

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self._dtype).contiguous(memory_format=self._memory_format)
        # fp32 means IEEE fp32: cuDNN would otherwise pick TF32 kernels (also when captured in a graph).
        with ieee_fp32() if self._dtype == torch.float32 else contextlib.nullcontext():
            return self.model(x).float().contiguous()

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        if not self.backend.cuda_graph:
            return self._forward(x)
        key = (x.data_ptr(), tuple(x.shape))
        if key not in self._graphs:
            if len(self._graphs) >= 8:  # frame sizes changed many times: drop the old graphs' memory
                self._graphs.clear()
            self._graphs[key] = self._capture(x)
        graph, static_in, static_out = self._graphs[key]
        graph.replay()  # static_in *is* x (the slot's device buffer): nothing to copy in
        # The next replay overwrites static_out; hand out a copy the allocator can track.
        return static_out.clone()

    def _capture(self, x: torch.Tensor):
        # Warm-up on a side stream before capture, as the CUDA-graph documentation asks.
        side = torch.cuda.Stream(self._device)
        side.wait_stream(torch.cuda.current_stream(self._device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self._forward(x)
        torch.cuda.current_stream(self._device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = self._forward(x)
        return graph, x, static_out

    @torch.inference_mode()
    def run_with_finite_flags(self, batch: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        try:
            finite = self.pipeline.run_or_release(batch, out)
        except OutOfMemory:
            self._graphs.clear()  # captured for the old buffers
            raise
        return out, finite

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return self.run_with_finite_flags(batch, out)[0]
