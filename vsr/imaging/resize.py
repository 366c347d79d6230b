"""Bicubic resizing that matches MATLAB's ``imresize``.

The LR images of every published SR table were made by MATLAB's ``imresize(hr, 1/s, 'bicubic')``,
which is antialiased (the cubic kernel is widened by the scale factor when shrinking). Other
libraries' bicubic (PIL, OpenCV, torch) differ from it by up to several grey levels, enough to move
PSNR by tenths of a dB, so the protocol needs this one. Measured against MATLAB's own LR images of
Set5 (see ``tests/test_imaging_resize.py``): the kernel has a = -0.5, weights are normalised per
output pixel, the vertical pass runs first, integer images are rounded after each pass, and border
pixels are replicated.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights, each (out_len, taps), for one axis (MATLAB's ``contributions``)."""
    kernel_width = 4.0
    antialias = scale < 1
    if antialias:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # output pixel centre in input coordinates (1-based)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    distance = u[:, None] - indices
    weights = scale * _cubic(scale * distance) if antialias else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)  # drop all-zero tap columns, as MATLAB does
    indices = np.clip(indices[:, keep], 1, in_len).astype(np.intp) - 1  # replicate the border
    return indices, weights[:, keep]


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    indices, weights = _contributions(img.shape[axis], out_len, scale)
    moved = np.moveaxis(img, axis, 0).astype(np.float64, copy=False)
    out = np.zeros((out_len,) + moved.shape[1:], dtype=np.float64)
    w_shape = (out_len,) + (1,) * (moved.ndim - 1)
    for t in range(indices.shape[1]):
        out += weights[:, t].reshape(w_shape) * moved[indices[:, t]]
    return np.moveaxis(out, 0, axis)


def _round_like(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.round(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """MATLAB's output size for a scale factor: ceil(size * scale)."""
    return int(math.ceil(height * scale - 1e-9)), int(math.ceil(width * scale - 1e-9))


def imresize(img: np.ndarray, scale: float | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """Resize an (H, W) or (H, W, C) image like MATLAB's ``imresize(img, scale, 'bicubic')``.

    Give ``scale`` (e.g. 1/3 to shrink, 3 to enlarge) or an output ``size`` (H, W). Integer images
    come back in their own dtype, rounded after each pass as MATLAB does; float images stay float
    and are not clipped.
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize takes (H, W) or (H, W, C) arrays, got shape {img.shape}")
    h, w = img.shape[:2]
    if size is None:
        if scale is None:
            raise ValueError("imresize needs scale or size")
        out_h, out_w = output_size(h, w, scale)
        scale_h = scale_w = float(scale)
    else:
        out_h, out_w = size
        scale_h, scale_w = out_h / h, out_w / w
    result = img
    # MATLAB resizes along the dimension with the smaller scale first; rows first on a tie.
    order = (0, 1) if scale_h <= scale_w else (1, 0)
    for axis in order:
        out_len, s = (out_h, scale_h) if axis == 0 else (out_w, scale_w)
        result = _round_like(_resize_axis(result, axis, out_len, s), img.dtype)
    return result
