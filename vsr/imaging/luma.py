"""The models' input contract: BT.601 limited-range Y as float32 ``code / 255`` ("model range").

Every model vsr ships was trained on the Y that MATLAB's ``rgb2ycbcr`` gives (BT.601, limited
range, 16..235 at 8 bits), as the published tables measure it, normalised to ``code / 255``. So
black is 16/255 and white 235/255 at the model's input, whatever the source was:

- 8-bit Y codes (the tables' protocol, training pairs): ``code / 255`` (:func:`y8_to_model`), and
  back, rounded and clipped to 8 bits (:func:`y8_from_model`); a grey 8-bit image's Y codes
  (:func:`grey8_to_y8`).
- Video luma of any depth, normalised as H.273 defines it (:attr:`vsr.video.frames.PixelLayout.scale`:
  a limited-range 10-bit 64..940 gives the same floats as 8-bit 16..235), is already in model range
  when it is limited range; full-range luma (JPEG-style video, grey images) spans 0..1 and is mapped
  onto 16/255..235/255 before the model and back after it (:func:`luma_to_model`,
  :func:`luma_from_model`).
- 8-bit RGB: the Y row of :func:`vsr.imaging.color.rgb_to_ycbcr` (``MATRIX``, limited range),
  as one affine map for speed (:func:`rgb8_to_model_affine`).

This module is the one place these numbers live; the image, video, frame-chain, preview, evaluation
and training paths all call it.
"""
from __future__ import annotations

import numpy as np

from .color import rgb_to_ycbcr

# The colour matrix of the models' Y (limited range).
MATRIX = "bt601"

# Full-range luma 0..1 -> model range: y = luma * Y_SPAN + Y_LOW (black 16, white 235 of 255).
Y_LOW, Y_SPAN = 16.0 / 255.0, 219.0 / 255.0


def luma_to_model(luma: np.ndarray, full_range: bool) -> np.ndarray:
    """Normalised float32 luma -> the model's input. Limited-range luma is returned as it is (the
    same object); full-range luma is mapped onto 16/255..235/255."""
    if full_range:
        return luma * np.float32(Y_SPAN) + np.float32(Y_LOW)
    return luma


def luma_from_model(y: np.ndarray, full_range: bool) -> np.ndarray:
    """Inverse of :func:`luma_to_model`: the model's output -> normalised luma of the source's range."""
    if full_range:
        return (y - np.float32(Y_LOW)) * np.float32(1.0 / Y_SPAN)
    return y


def y8_to_model(y8: np.ndarray) -> np.ndarray:
    """8-bit BT.601 limited-range Y codes (uint8, or their values in any dtype) -> float32 model input."""
    return np.asarray(y8, dtype=np.float32) / 255.0


def y8_from_model(y: np.ndarray) -> np.ndarray:
    """The model's float output -> uint8 Y codes, rounded and clipped, as a saved image would be:
    the tables' protocol scores the 8-bit output, not the network's floats."""
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


def grey8_to_y8(grey: np.ndarray) -> np.ndarray:
    """8-bit full-range grey levels (R = G = B) -> 8-bit BT.601 limited-range Y codes, in float64 and
    rounded as MATLAB's ``rgb2ycbcr`` rounds (the training pairs' Y of a grey image)."""
    return np.round(16.0 + grey.astype(np.float64) * 219.0 / 255.0).astype(np.uint8)


def y8_to_grey8(y: np.ndarray) -> np.ndarray:
    """The inverse of :func:`grey8_to_y8` on limited-range codes (16-235): the grey levels whose
    training Y is exactly ``y``, so a Y plane stored as a grey image trains as its source did."""
    if y.size and (int(y.min()) < 16 or int(y.max()) > 235):
        raise ValueError(f"Y codes {int(y.min())}-{int(y.max())} lie outside the limited range 16-235")
    return np.round((y.astype(np.float64) - 16.0) * 255.0 / 219.0).astype(np.uint8)


def rgb8_to_model_affine() -> tuple[np.ndarray, float]:
    """(weights (3,) float32, offset): ``rgb_uint8 @ weights + float32(offset)`` is the model input of
    8-bit RGB pixels, taken from :func:`~vsr.imaging.color.rgb_to_ycbcr` (``MATRIX``, limited range)."""
    offset = float(rgb_to_ycbcr(np.zeros((1, 3)), MATRIX, full_range=False)[0, 0])
    weights = rgb_to_ycbcr(np.eye(3), MATRIX, full_range=False)[:, 0] - offset
    return (weights / 255.0).astype(np.float32), offset
