"""The frame chain: integer Y, Cb, Cr planes in, super-resolved integer planes out, on one torch device.

On a GPU the CPU-side path (float planes in numpy, chroma upscaling and rounding in the encode
thread) is the bottleneck: float32 planes cross PCIe both ways (4x the bytes of uint8) and a 4K
frame's chroma upscaling and rounding take 35-40 ms of one core. The chain does all of it where
the model runs, so only 8- or 16-bit planes cross the bus:

    codes -> normalised floats (x 1/scale) -> model's range -> model -> back -> codes (round, clip)
    chroma codes -> floats -> Keys cubic polyphase (horizontal, then vertical) -> codes

Every step is the same float32 operation, in the same order, as the numpy path
(:func:`~vsr.video.frames.read_planes`, :func:`~vsr.imaging.luma.luma_to_model`,
:class:`~vsr.video.chroma.ChromaUpscaler`, :func:`~vsr.video.frames.make_frame`): one multiply
and one rounding each, no fused multiply-add, the filter taps summed in the same order, and the
taps themselves taken from :meth:`ChromaUpscaler.axis_taps`. So with the same model output the
chain's planes equal the numpy path's bit for bit (tests/test_video_frame_chain.py checks this on
the CPU with ``device="cpu"``).

The model is any ``forward(x) -> y`` on (N, 1, H, W) float32 device tensors (a torch module, a
CUDA runner's compute step, a TensorRT engine); this module knows nothing of how it runs, and
nothing of video files either.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..imaging.luma import Y_LOW, Y_SPAN
from .chroma import ChromaUpscaler
from .frames import PixelLayout


def plane_dtype(layout: PixelLayout) -> torch.dtype:
    """The torch dtype of ``layout``'s code values: uint8, or uint16 above 8 bits."""
    return torch.uint8 if layout.bits == 8 else torch.uint16


class FrameChain:
    """Integer planes -> model -> integer planes, for one input/output layout and one device.

    ``forward``: (N, 1, H, W) float32 -> (N, 1, sH, sW) float32 on ``device``, the model in its
    trained range (BT.601 limited-range Y in [0, 1]). ``upscaler``: the chroma resampler of the
    numpy path (None when either side is grey: the output then gets neutral chroma, as
    :func:`~vsr.video.frames.make_frame` gives it).
    """

    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        scale: int,
        in_layout: PixelLayout,
        out_layout: PixelLayout,
        upscaler: ChromaUpscaler | None,
        device: str | torch.device = "cpu",
    ):
        self.forward = forward
        self.scale = scale
        self.in_layout, self.out_layout = in_layout, out_layout
        self.upscaler = upscaler
        self.device = torch.device(device)
        f32 = dict(dtype=torch.float32, device=self.device)
        # 0-dim float32 tensors, so each product is float32 x float32 as in numpy (a Python float
        # would be a double scalar to some kernels).
        self._inv_in = torch.tensor(1.0 / in_layout.scale, **f32)
        self._out_scale = torch.tensor(out_layout.scale, **f32)
        self._y_low = torch.tensor(Y_LOW, **f32)
        self._y_span = torch.tensor(Y_SPAN, **f32)
        self._y_inv_span = torch.tensor(1.0 / Y_SPAN, **f32)
        self._taps: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor, int]] = {}

    # -- pieces, each the numpy path's twin ---------------------------------------------------

    def normalise(self, codes: torch.Tensor) -> torch.Tensor:
        """Integer codes -> float32 ``code / scale`` (:func:`~vsr.video.frames.read_planes`)."""
        return codes.to(torch.float32) * self._inv_in

    def to_model(self, luma: torch.Tensor) -> torch.Tensor:
        """:func:`~vsr.imaging.luma.luma_to_model`."""
        return luma * self._y_span + self._y_low if self.in_layout.full_range else luma

    def from_model(self, y: torch.Tensor) -> torch.Tensor:
        """:func:`~vsr.imaging.luma.luma_from_model`."""
        return (y - self._y_low) * self._y_inv_span if self.in_layout.full_range else y

    def quantise(self, values: torch.Tensor) -> torch.Tensor:
        """Normalised floats -> the output's integer codes: round half to even, clip
        (:func:`~vsr.video.frames._quantise_into`)."""
        codes = torch.round(values * self._out_scale)
        return codes.clamp_(0, self.out_layout.peak).to(plane_dtype(self.out_layout))

    def _axis(self, axis: int, n_in: int, n_out: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        key = (axis, n_in, n_out)
        if key not in self._taps:
            indices, weights = self.upscaler.axis_taps(axis, n_in, n_out)
            self._taps[key] = (
                torch.from_numpy(indices.reshape(-1)).to(self.device),
                torch.from_numpy(weights).to(self.device)[:, :, None],  # (phases, 4, 1)
                indices.shape[2],
            )
        return self._taps[key]

    def prepare(self, luma_shape: tuple[int, int], chroma_shape: tuple[int, int]) -> None:
        """Put the filter taps for (H, W) luma and (Hc, Wc) chroma input planes on the device now,
        on the current stream (a caller running the chain on other streams orders them after it)."""
        if self.upscaler is None or self.out_layout.is_grey:
            return
        (height, width), (chroma_h, chroma_w) = luma_shape, chroma_shape
        out_w, out_h = self.out_layout.chroma_size(self.scale * width, self.scale * height)
        self._axis(1, chroma_w, out_w)
        self._axis(0, chroma_h, out_h)

    def _resample_last(self, planes: torch.Tensor, axis: int, n_out: int) -> torch.Tensor:
        """The polyphase filter along the last dimension of ``planes`` (:meth:`_AxisPlan.apply`)."""
        n_in = planes.shape[-1]
        flat_indices, weights, groups = self._axis(axis, n_in, n_out)
        phases = weights.shape[0]
        taps = planes.index_select(-1, flat_indices).unflatten(-1, (phases, 4, groups))
        acc = taps[..., 0, :] * weights[:, 0]
        for t in range(1, 4):
            acc = acc + taps[..., t, :] * weights[:, t]  # multiply, then add: no fused multiply-add
        # (..., phases, groups) -> (..., groups, phases): output g * phases + p.
        return acc.transpose(-1, -2).reshape(*planes.shape[:-1], groups * phases)[..., :n_out]

    def upscale_chroma(self, chroma: torch.Tensor, out_width: int, out_height: int) -> torch.Tensor:
        """(..., Hc, Wc) float32 -> (..., Hc', Wc'): horizontal pass, then vertical, as numpy does."""
        wide = self._resample_last(chroma, 1, out_width)
        # Contiguous before the gather: index_select along a strided last dimension is ~500x slower.
        return self._resample_last(wide.transpose(-1, -2).contiguous(), 0, out_height).transpose(-1, -2).contiguous()

    # -- the whole chain ----------------------------------------------------------------------

    @torch.inference_mode()
    def __call__(self, luma: torch.Tensor, chroma: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(N, H, W) luma codes and (N, 2, Hc, Wc) chroma codes (or None) on the device ->
        (N, sH, sW) luma codes, (N, 2, Hc', Wc') chroma codes (None for a grey output) and (N,)
        bool: which frames' model output was finite (the caller redoes the others in fp32)."""
        x = self.to_model(self.normalise(luma))[:, None]
        y = self.forward(x)[:, 0]
        finite = torch.isfinite(y.reshape(len(y), -1).sum(dim=1))
        luma_out = self.quantise(self.from_model(y))
        if self.out_layout.is_grey:
            return luma_out, None, finite
        n, height, width = luma_out.shape
        out_w, out_h = self.out_layout.chroma_size(width, height)
        if chroma is None or self.upscaler is None:
            neutral = torch.full((n, 2, out_h, out_w), self.out_layout.chroma_neutral, dtype=plane_dtype(self.out_layout), device=self.device)
            return luma_out, neutral, finite
        chroma_out = self.quantise(self.upscale_chroma(self.normalise(chroma), out_w, out_h))
        return luma_out, chroma_out, finite
