"""Super-resolution of a still image: Y through the model, Cb/Cr (and alpha) by bicubic.

The models take BT.601 limited-range Y (:mod:`vsr.imaging.luma`), so images are converted to that Y,
upscaled, and converted back. Grey images are treated as R = G = B: their full-range grey level is
mapped onto the model's range as full-range video luma is.
"""
from __future__ import annotations

import numpy as np

from ..backends.base import Runner
from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .image_io import Image
from .luma import MATRIX, luma_from_model, luma_to_model
from .resize import imresize


def upscale_image(image: Image, runner: Runner) -> Image:
    """``image`` enlarged ``runner.scale`` times, in its own bit depth and channel layout."""
    s = runner.scale
    pixels = image.pixels
    peak = float(image.max_value)
    values = pixels.astype(np.float32) / peak
    colour = values[:, :, :1] if image.is_grey else values[:, :, :3]
    if image.is_grey:
        y = luma_to_model(colour[:, :, 0], full_range=True)
    else:
        ycc = rgb_to_ycbcr(colour, MATRIX, full_range=False)
        y = ycc[:, :, 0]
    y_up = runner.run(y[None])[0]
    if image.is_grey:
        out = luma_from_model(y_up, full_range=True)[:, :, None]
    else:
        chroma_up = imresize(np.ascontiguousarray(ycc[:, :, 1:]), scale=s).astype(np.float32)
        out = ycbcr_to_rgb(np.concatenate([y_up[:, :, None], chroma_up], axis=2), MATRIX, full_range=False)
    if image.has_alpha:
        alpha_up = imresize(np.ascontiguousarray(values[:, :, -1:]), scale=s).astype(np.float32)
        out = np.concatenate([out, alpha_up], axis=2)
    out = np.clip(np.round(out * peak), 0, peak).astype(pixels.dtype)
    return Image(out)
