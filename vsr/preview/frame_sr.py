"""One RGB frame upscaled two ways, for comparison: bicubic, and luma through the CNN.

The CNN half follows :func:`vsr.imaging.luma_sr.upscale_image` (BT.601 limited-range Y through the
model, :mod:`vsr.imaging.luma`; Cb/Cr bicubic) with two changes for speed. The bicubic is torch's
uint8 one (a = -0.75, as OpenCV's INTER_CUBIC) instead of the exact MATLAB ``imresize``, which is
numpy and far too slow for a live view; a grey level or two between the kernels cannot be seen at
video rate. And the CNN half is the bicubic half with its Y replaced by the CNN's, so the two halves
on screen carry exactly the same chroma and differ only where the model does.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..backends.base import Runner
from ..imaging.luma import rgb8_to_model_affine


class FrameUpscaler:
    """``upscale(rgb)`` -> (bicubic, cnn), both (s*H, s*W, 3) uint8, for ``runner.scale`` = s."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.scale = runner.scale
        self._y_weights, self._y_offset = rgb8_to_model_affine()
        # With Cb/Cr fixed, R, G and B each move by dY / (sum of Y weights): the inverse matrix's Y column.
        self._rgb255_per_y = np.float32(1.0 / float(self._y_weights.sum()))

    def luma(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (H, W) float32 BT.601 limited-range Y in [0, 1] (code value / 255)."""
        return rgb @ self._y_weights + np.float32(self._y_offset)

    def bicubic(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        # An HWC array seen as NCHW is channels-last, which is what torch's fast uint8 path takes.
        up = F.interpolate(torch.from_numpy(rgb).permute(2, 0, 1)[None], size=(self.scale * h, self.scale * w), mode="bicubic", align_corners=False)
        return np.ascontiguousarray(up[0].permute(1, 2, 0).numpy())

    def upscale(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bicubic = self.bicubic(rgb)
        y_cnn = self.runner.run(self.luma(rgb)[None])[0]
        delta = (y_cnn - self.luma(bicubic)) * self._rgb255_per_y
        cnn = bicubic + delta[:, :, None]
        np.rint(cnn, out=cnn)
        np.clip(cnn, 0, 255, out=cnn)
        return bicubic, cnn.astype(np.uint8)
