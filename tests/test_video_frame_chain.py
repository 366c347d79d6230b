"""vsr/video/frame_chain.py: the torch chain equals the numpy path (read_planes -> model ->
ChromaUpscaler -> make_frame), run on the CPU with device="cpu".

Equality is exact (bit for bit), not "within one level": every step is the same float32
operation in the same order (one multiply, one rounding, taps summed t = 0..3, no fused
multiply-add), and both sides call the same model on the same input tensor. The shipped ESPCN x2
weights are used, so a chain that returned zeros, swapped planes or misplaced chroma fails.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsr.imaging.luma import luma_from_model, luma_to_model
from vsr.models import load_model
from vsr.video.chroma import ChromaUpscaler
from vsr.video.frame_chain import FrameChain
from vsr.video.frames import PixelLayout, _plane_view, frame_from_codes, make_frame


@pytest.fixture(scope="module")
def shipped_x2():
    return load_model("espcn", 2).eval()


def _codes(layout: PixelLayout, n: int, height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Random but picture-like codes: a smooth ramp plus noise, chroma around neutral."""
    rng = np.random.default_rng(seed)
    peak = layout.peak
    yy, xx = np.mgrid[0:height, 0:width]
    ramp = (0.1 + 0.8 * (xx + yy) / (width + height)) * peak
    luma = np.clip(np.rint(ramp + rng.normal(0, peak * 0.05, (n, height, width))), 0, peak).astype(layout.dtype)
    if layout.is_grey:
        return luma, None
    cw, ch = layout.chroma_size(width, height)
    chroma = np.clip(np.rint(layout.chroma_neutral + rng.normal(0, peak * 0.1, (n, 2, ch, cw))), 0, peak).astype(layout.dtype)
    return luma, chroma


def _numpy_path(model, luma, chroma, in_layout, out_layout, upscaler, scale):
    """Today's CPU path, step by step as vsr.video.pipeline runs it, out to the planes of an av frame."""
    inv = np.float32(1.0 / in_layout.scale)
    y = np.stack([luma_to_model(np.multiply(plane, inv, dtype=np.float32), in_layout.full_range) for plane in luma])
    with torch.inference_mode():
        sr = model(torch.from_numpy(y)[:, None])[:, 0].numpy()
    lumas, chromas = [], []
    for i in range(len(luma)):
        out_luma = luma_from_model(sr[i], in_layout.full_range)
        c = None
        if upscaler is not None and chroma is not None:
            planes = np.empty(chroma[i].shape, np.float32)
            np.multiply(chroma[i][0], inv, out=planes[0])
            np.multiply(chroma[i][1], inv, out=planes[1])
            height, width = out_luma.shape
            c = upscaler(planes, out_layout.chroma_size(width, height))
        frame = make_frame(out_luma, c, out_layout)
        views = [_plane_view(p, out_layout.dtype).copy() for p in frame.planes]
        lumas.append(views[0])
        if not out_layout.is_grey:
            chromas.append(np.stack(views[1:3]))
    return np.stack(lumas), (np.stack(chromas) if chromas else None)


def _chain_path(model, luma, chroma, in_layout, out_layout, upscaler, scale):
    chain = FrameChain(model, scale, in_layout, out_layout, upscaler, device="cpu")
    y, c, finite = chain(torch.from_numpy(luma), None if chroma is None else torch.from_numpy(chroma))
    assert finite.all()
    return y.numpy(), (None if c is None else c.numpy())


CASES = [
    # bits, in shift, out shift, full range, in siting, out siting, width, height
    (8, (1, 1), (1, 1), False, "left", "left", 37, 23),
    (8, (1, 1), (1, 1), True, "center", "center", 33, 17),
    (8, (1, 0), (1, 0), False, "left", "left", 31, 19),
    (8, (0, 0), (0, 0), False, "left", "left", 29, 21),
    (8, (1, 1), (0, 0), False, "topleft", "left", 35, 15),
    (10, (1, 1), (1, 1), False, "left", "left", 37, 23),
    (10, (1, 0), (1, 0), True, "left", "left", 27, 13),
    (10, (0, 0), (0, 0), False, "center", "center", 25, 19),
]


@pytest.mark.parametrize("bits, in_shift, out_shift, full, in_siting, out_siting, width, height", CASES)
def test_chain_equals_numpy_path(shipped_x2, bits, in_shift, out_shift, full, in_siting, out_siting, width, height):
    in_layout = PixelLayout(bits, in_shift, full)
    out_layout = PixelLayout(bits, out_shift, full)
    upscaler = ChromaUpscaler(2, in_shift, out_shift, in_siting, out_siting)
    luma, chroma = _codes(in_layout, 2, height, width, seed=bits + width)
    want_y, want_c = _numpy_path(shipped_x2, luma, chroma, in_layout, out_layout, upscaler, 2)
    got_y, got_c = _chain_path(shipped_x2, luma, chroma, in_layout, out_layout, upscaler, 2)
    assert got_y.dtype == out_layout.dtype and got_c.dtype == out_layout.dtype
    assert got_y.shape == (2, 2 * height, 2 * width)
    np.testing.assert_array_equal(got_y, want_y)
    np.testing.assert_array_equal(got_c, want_c)
    # Not trivially equal: the model changed the picture, and chroma is not flat.
    assert np.abs(got_y.astype(int)[:, ::2, ::2] - luma.astype(int)).max() > 0
    assert got_c.std() > in_layout.peak * 0.01


def test_chain_bit_depth_change_and_grey(shipped_x2):
    """10-bit in, 8-bit out (an encoder without 10-bit); grey in, colour out (neutral chroma);
    colour in, grey out (chroma dropped)."""
    ten, eight = PixelLayout(10, (1, 1)), PixelLayout(8, (1, 1))
    up = ChromaUpscaler(2, (1, 1), (1, 1))
    luma, chroma = _codes(ten, 1, 19, 27, seed=5)
    want = _numpy_path(shipped_x2, luma, chroma, ten, eight, up, 2)
    got = _chain_path(shipped_x2, luma, chroma, ten, eight, up, 2)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])

    grey = PixelLayout(8, None)
    luma, _ = _codes(grey, 1, 15, 21, seed=6)
    want = _numpy_path(shipped_x2, luma, None, grey, eight, None, 2)
    got = _chain_path(shipped_x2, luma, None, grey, eight, None, 2)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert (got[1] == 128).all()

    luma, chroma = _codes(eight, 1, 15, 21, seed=7)
    want = _numpy_path(shipped_x2, luma, chroma, eight, grey, None, 2)
    got = _chain_path(shipped_x2, luma, chroma, eight, grey, None, 2)
    assert got[1] is None and want[1] is None
    np.testing.assert_array_equal(got[0], want[0])


def test_chain_chroma_resampler_equals_chroma_upscaler_for_x3():
    """The polyphase resampler alone, on float planes, at x3 (three phases) and 4:2:0 -> 4:4:4."""
    up = ChromaUpscaler(3, (1, 1), (0, 0), "left", "left")
    chain = FrameChain(lambda x: x, 3, PixelLayout(8, (1, 1)), PixelLayout(8, (0, 0)), up)
    planes = np.random.default_rng(3).random((2, 9, 13), dtype=np.float32)
    want = up(planes, (3 * 25, 3 * 17))
    got = chain.upscale_chroma(torch.from_numpy(planes), 3 * 25, 3 * 17).numpy()
    assert got.shape == want.shape == (2, 51, 75)
    np.testing.assert_array_equal(got, want)


def test_chain_flags_non_finite_frames():
    layout = PixelLayout(8, (1, 1))

    def broken(x):
        y = torch.nn.functional.interpolate(x, scale_factor=2)
        y[1] = float("nan")
        return y

    chain = FrameChain(broken, 2, layout, layout, ChromaUpscaler(2, (1, 1), (1, 1)))
    luma, chroma = _codes(layout, 3, 8, 10, seed=1)
    _, _, finite = chain(torch.from_numpy(luma), torch.from_numpy(chroma))
    assert finite.tolist() == [True, False, True]


def test_frame_from_codes_round_trips_chain_output(shipped_x2):
    """The chain's integer planes become an av.VideoFrame whose planes read back unchanged."""
    layout = PixelLayout(10, (1, 0))
    luma, chroma = _codes(layout, 1, 9, 11, seed=2)
    y, c = _chain_path(shipped_x2, luma, chroma, layout, layout, ChromaUpscaler(2, (1, 0), (1, 0)), 2)
    frame = frame_from_codes(y[0], c[0], layout)
    assert (frame.width, frame.height, frame.format.name) == (22, 18, "yuv422p10le")
    np.testing.assert_array_equal(_plane_view(frame.planes[0], layout.dtype), y[0])
    np.testing.assert_array_equal(_plane_view(frame.planes[2], layout.dtype), c[0, 1])


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p10le", "nv12", "gray"])
def test_read_codes_then_planes_equal_read_planes(pix_fmt):
    """The chain's decode side: integer planes, whose float form equals read_planes' exactly."""
    from tests.video_clips import planes_for
    from vsr.video.frames import plan_input, planes_from_codes, read_codes, read_planes

    frame = planes_for(pix_fmt, 23, 17, 1)
    plan = plan_input(frame)
    luma, chroma = read_codes(frame, plan)
    assert luma.dtype == plan.layout.dtype and luma.shape == (17, 23)
    want = read_planes(frame, plan)
    got = planes_from_codes(luma, chroma, plan.layout)
    np.testing.assert_array_equal(got[0], want[0])
    if want[1] is None:
        assert chroma is None and got[1] is None
    else:
        assert chroma.shape == want[1].shape
        np.testing.assert_array_equal(got[1], want[1])
