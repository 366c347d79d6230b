"""One frame upscaled two ways: the CNN half is the bicubic half with the model's Y."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vsr.api import prepare_runner
from vsr.imaging.image_io import Image
from vsr.imaging.luma_sr import upscale_image
from vsr.preview.frame_sr import FrameUpscaler


class BicubicLuma:
    """A stand-in model whose Y is plain bicubic: the CNN half must then equal the bicubic half."""

    name, device, precision = "bicubic", "cpu", "fp32"

    def __init__(self, scale):
        self.scale = scale

    def run(self, batch):
        return F.interpolate(torch.from_numpy(batch)[:, None], scale_factor=self.scale, mode="bicubic", align_corners=False)[:, 0].numpy()


def smooth_picture(h=24, w=32):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=2).astype(np.uint8)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_both_halves_are_scale_times_larger(scale):
    bicubic, cnn = FrameUpscaler(BicubicLuma(scale)).upscale(smooth_picture(13, 7))
    assert bicubic.shape == cnn.shape == (13 * scale, 7 * scale, 3)
    assert bicubic.dtype == cnn.dtype == np.uint8


def test_a_model_that_adds_nothing_leaves_the_cnn_half_equal_to_bicubic():
    bicubic, cnn = FrameUpscaler(BicubicLuma(2)).upscale(smooth_picture())
    assert np.abs(bicubic.astype(int) - cnn).max() <= 2  # rounding of the clamped uint8 bicubic


def test_cnn_half_matches_the_still_image_path(espcn_weights):
    """Same protocol as `vsr upscale` on an image; only the bicubic kernel differs (sub-level on average)."""
    runner = prepare_runner("espcn", 2, espcn_weights[2], "torch", "cpu")
    picture = smooth_picture()
    _, cnn = FrameUpscaler(runner).upscale(picture)
    reference = upscale_image(Image(picture), runner).pixels
    assert np.abs(cnn.astype(int) - reference).mean() < 1.0
