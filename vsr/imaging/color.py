"""RGB <-> YCbCr conversions.

BT.601 limited range (Y in 16..235) is what MATLAB's ``rgb2ycbcr`` computes and what every published
super-resolution table measures PSNR on, so the models are trained and evaluated on that Y. Video
carries its own matrix (BT.601 or BT.709) and range; those are here too.
"""
from __future__ import annotations

import numpy as np

# Luma coefficients (Kr, Kb) of each matrix.
_KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


def _forward_matrix(matrix: str, full_range: bool) -> tuple[np.ndarray, np.ndarray]:
    """3x3 matrix and offset taking RGB in [0, 1] to YCbCr in [0, 1] (code value / 255)."""
    try:
        kr, kb = _KR_KB[matrix]
    except KeyError:
        raise ValueError(f"unknown colour matrix {matrix!r}; known: {sorted(_KR_KB)}") from None
    kg = 1.0 - kr - kb
    m = np.array(
        [
            [kr, kg, kb],
            [-0.5 * kr / (1 - kb), -0.5 * kg / (1 - kb), 0.5],
            [0.5, -0.5 * kg / (1 - kr), -0.5 * kb / (1 - kr)],
        ]
    )
    if full_range:
        return m, np.array([0.0, 128.0, 128.0]) / 255.0
    scale = np.array([219.0, 224.0, 224.0])[:, None] / 255.0
    return m * scale, np.array([16.0, 128.0, 128.0]) / 255.0


def rgb_to_ycbcr(rgb01: np.ndarray, matrix: str = "bt601", full_range: bool = False) -> np.ndarray:
    """RGB floats in [0, 1] (..., 3) -> YCbCr floats (code value / 255), (..., 3)."""
    m, offset = _forward_matrix(matrix, full_range)
    return rgb01 @ m.T.astype(rgb01.dtype) + offset.astype(rgb01.dtype)


def ycbcr_to_rgb(ycc01: np.ndarray, matrix: str = "bt601", full_range: bool = False) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`; the result is not clipped."""
    m, offset = _forward_matrix(matrix, full_range)
    inv = np.linalg.inv(m)
    return (ycc01 - offset.astype(ycc01.dtype)) @ inv.T.astype(ycc01.dtype)


def rgb_to_y_bt601_uint8(rgb: np.ndarray) -> np.ndarray:
    """Y of BT.601 limited range, rounded to uint8 exactly as MATLAB's ``rgb2ycbcr`` on uint8 input.

    This is the channel the published PSNR/SSIM tables are computed on.
    """
    if rgb.dtype != np.uint8:
        raise TypeError("rgb_to_y_bt601_uint8 takes uint8 RGB")
    rgb01 = rgb.astype(np.float64) / 255.0
    y = rgb01 @ np.array([65.481, 128.553, 24.966]) + 16.0
    return np.clip(np.round(y), 0, 255).astype(np.uint8)
