"""PSNR and SSIM under the protocol of the published SR tables.

Both are computed on the Y channel (BT.601, 16..235, 8-bit code values) with ``shave`` pixels
removed at every border: the SRCNN/ESPCN/MSRN evaluation scripts shave ``scale`` pixels because the
border of an upscaled image depends on the padding convention more than on the method.
"""
from __future__ import annotations

import numpy as np


def _shaved(img: np.ndarray, shave: int) -> np.ndarray:
    if shave <= 0:
        return img
    if img.shape[0] <= 2 * shave or img.shape[1] <= 2 * shave:
        raise ValueError(f"image {img.shape[:2]} too small to shave {shave} pixels per border")
    return img[shave:-shave, shave:-shave]


def _check_pair(sr: np.ndarray, hr: np.ndarray) -> None:
    if sr.shape != hr.shape:
        raise ValueError(f"shapes differ: {sr.shape} vs {hr.shape}")


def psnr_y(sr_y: np.ndarray, hr_y: np.ndarray, shave: int, peak: float = 255.0) -> float:
    """PSNR in dB between two Y planes given in code values (0..``peak``), borders shaved."""
    _check_pair(sr_y, hr_y)
    diff = _shaved(sr_y.astype(np.float64), shave) - _shaved(hr_y.astype(np.float64), shave)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(peak * peak / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable correlation keeping only fully covered pixels (MATLAB ``filter2(..., 'valid')``)."""
    n = window.size
    h, w = img.shape
    rows = sum(window[k] * img[k : h - n + 1 + k, :] for k in range(n))
    return sum(window[k] * rows[:, k : w - n + 1 + k] for k in range(n))


def ssim_y(sr_y: np.ndarray, hr_y: np.ndarray, shave: int, peak: float = 255.0) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, K1=0.01, K2=0.03), borders shaved."""
    _check_pair(sr_y, hr_y)
    x = _shaved(sr_y.astype(np.float64), shave)
    y = _shaved(hr_y.astype(np.float64), shave)
    window = _gaussian_window()
    if min(x.shape) < window.size:
        raise ValueError(f"image {x.shape} smaller than the 11x11 SSIM window")
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
    sxx = _filter_valid(x * x, window) - mu_x * mu_x
    syy = _filter_valid(y * y, window) - mu_y * mu_y
    sxy = _filter_valid(x * y, window) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2))
    return float(ssim_map.mean())
