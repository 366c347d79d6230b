"""Super-resolution of a still image: Y through the model, Cb/Cr (and alpha) by bicubic.

The models were trained on BT.601 limited-range Y, as the published tables are, so images are
converted to that Y, upscaled, and converted back. Grey images are treated as R = G = B.
"""
from __future__ import annotations

import numpy as np

from ..backends.base import Runner
from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .image_io import Image
from .resize import imresize

_Y_LOW, _Y_RANGE = 16.0 / 255.0, 219.0 / 255.0


def upscale_image(image: Image, runner: Runner) -> Image:
    """``image`` enlarged ``runner.scale`` times, in its own bit depth and channel layout."""
    s = runner.scale
    pixels = image.pixels
    peak = float(image.max_value)
    values = pixels.astype(np.float32) / peak
    colour = values[:, :, :1] if image.is_grey else values[:, :, :3]
    if image.is_grey:
        y = _Y_LOW + _Y_RANGE * colour[:, :, 0]
    else:
        ycc = rgb_to_ycbcr(colour, "bt601", full_range=False)
        y = ycc[:, :, 0]
    y_up = runner.run(y[None])[0]
    if image.is_grey:
        out = ((y_up - _Y_LOW) / _Y_RANGE)[:, :, None]
    else:
        chroma_up = imresize(np.ascontiguousarray(ycc[:, :, 1:]), scale=s).astype(np.float32)
        out = ycbcr_to_rgb(np.concatenate([y_up[:, :, None], chroma_up], axis=2), "bt601", full_range=False)
    if image.has_alpha:
        alpha_up = imresize(np.ascontiguousarray(values[:, :, -1:]), scale=s).astype(np.float32)
        out = np.concatenate([out, alpha_up], axis=2)
    out = np.clip(np.round(out * peak), 0, peak).astype(pixels.dtype)
    return Image(out)
