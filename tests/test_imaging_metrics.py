import math

import numpy as np
import pytest

from vsr.imaging.metrics import psnr_y, ssim_y


def test_psnr_hand_computed_with_shaved_border():
    hr = np.full((20, 20), 100, np.uint8)
    sr = hr.copy()
    sr[3:-3, 3:-3] += 5  # inside: error 5 everywhere
    sr[:3, :] = 0  # border garbage the protocol shaves off
    assert psnr_y(sr, hr, shave=3) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr_y(sr, hr, shave=0) < psnr_y(sr, hr, shave=3)
    assert psnr_y(hr, hr, shave=2) == float("inf")


def test_ssim_of_constant_images_matches_the_formula():
    a, b = 100.0, 120.0
    x, y = np.full((30, 30), a), np.full((30, 30), b)
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)  # variances are zero: contrast term is 1
    assert ssim_y(x, y, shave=2) == pytest.approx(expected, rel=1e-12)
    assert ssim_y(x, x, shave=2) == pytest.approx(1.0)


def test_ssim_drops_with_noise():
    rng = np.random.default_rng(0)
    hr = np.tile(np.linspace(50, 200, 40), (40, 1))  # smooth: noise dominates its structure
    noisy = ssim_y(hr + rng.normal(0, 20, hr.shape), hr, shave=2)
    slightly = ssim_y(hr + rng.normal(0, 2, hr.shape), hr, shave=2)
    assert noisy < 0.5 < slightly < 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        psnr_y(np.zeros((4, 4)), np.zeros((4, 5)), shave=0)
