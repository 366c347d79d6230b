"""vsr/video/frames_in_flight.py: the ring of frames in flight, run on the CPU (device="cpu").

The CUDA-only parts (pinned memory, streams, events) are a small stand-in class; everything else
(order, slot reuse, output arrays reused, sizes, dtypes, the finite flags) runs here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vsr.models import load_model
from vsr.video.chroma import ChromaUpscaler
from vsr.video.frame_chain import FrameChain
from vsr.video.frames import PixelLayout
from vsr.video.frames_in_flight import FramesInFlight


@pytest.fixture(scope="module")
def chain():
    layout = PixelLayout(8, (1, 1))
    return FrameChain(load_model("espcn", 2).eval(), 2, layout, layout, ChromaUpscaler(2, (1, 1), (1, 1)))


def _frames(n, h=15, w=21, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.integers(16, 236, (h, w), dtype=np.uint8), rng.integers(64, 192, (2, (h + 1) // 2, (w + 1) // 2), dtype=np.uint8)) for _ in range(n)]


def test_ring_returns_every_frame_in_order_equal_to_the_chain(chain):
    ring = FramesInFlight(chain, depth=3)
    frames = _frames(8)
    (sh, sw), (ch, cw) = ring.output_shapes(15, 21)
    luma_out, chroma_out = np.empty((sh, sw), np.uint8), np.empty((2, ch, cw), np.uint8)
    got = []
    for i, (y, c) in enumerate(frames):
        if ring.full:
            tag, finite = ring.collect(luma_out, chroma_out)
            got.append((tag, luma_out.copy(), chroma_out.copy(), finite))
        ring.submit(y, c, tag=i)
        y[...] = 0  # the ring copied the planes at submit: the caller may reuse its arrays
    assert len(ring) == 3  # three frames were in flight before the first was collected
    while len(ring):
        tag, finite = ring.collect(luma_out, chroma_out)
        got.append((tag, luma_out.copy(), chroma_out.copy(), finite))
    assert [g[0] for g in got] == list(range(8))
    for (tag, y, c, finite), (y_in, c_in) in zip(got, _frames(8)):
        want_y, want_c, _ = chain(torch.from_numpy(y_in[None]), torch.from_numpy(c_in[None]))
        np.testing.assert_array_equal(y, want_y[0].numpy())
        np.testing.assert_array_equal(c, want_c[0].numpy())
        assert finite


def test_ring_refuses_overfill_and_size_change_in_flight(chain):
    ring = FramesInFlight(chain, depth=2)
    (y, c), = _frames(1)
    ring.submit(y, c)
    ring.submit(y, c)
    with pytest.raises(RuntimeError, match="full"):
        ring.submit(y, c)
    out = ring.output_shapes(15, 21)
    ring.collect(np.empty(out[0], np.uint8), np.empty((2, *out[1]), np.uint8))
    (y2, c2), = _frames(1, h=9, w=11)
    with pytest.raises(RuntimeError, match="size changed"):
        ring.submit(y2, c2)
    ring.collect(np.empty(out[0], np.uint8), np.empty((2, *out[1]), np.uint8))
    ring.submit(y2, c2)  # drained: a new size gets new buffers
    out = ring.output_shapes(9, 11)
    assert out == ((18, 22), (9, 11))
    ring.collect(np.empty(out[0], np.uint8), np.empty((2, *out[1]), np.uint8))


def test_ring_10_bit_and_grey_output():
    ten, grey = PixelLayout(10, (1, 0)), PixelLayout(10, None)
    chain = FrameChain(load_model("espcn", 2).eval(), 2, ten, grey, None)
    ring = FramesInFlight(chain, depth=2)
    rng = np.random.default_rng(1)
    y = rng.integers(64, 940, (9, 13)).astype("<u2")
    c = rng.integers(64, 960, (2, 9, 7)).astype("<u2")
    ring.submit(y, c)
    (sh, sw), chroma = ring.output_shapes(9, 13)
    assert chroma is None
    out = np.empty((sh, sw), "<u2")
    ring.collect(out, None)
    want, none, _ = chain(torch.from_numpy(y[None]), torch.from_numpy(c[None]))
    assert none is None
    np.testing.assert_array_equal(out, want[0].numpy())
    assert out.max() > 255  # really 10-bit codes


def test_ring_puts_filter_taps_on_the_device_before_the_slots_run(chain):
    """The taps are uploaded once, before any slot stream runs (on CUDA, slot streams would not
    wait for an upload made on another slot's stream); the chain then finds them cached."""
    layout = PixelLayout(8, (1, 1))
    taps_when_slot_ran = []

    def forward(x):  # the chain calls the model before it resamples chroma
        taps_when_slot_ran.append(sorted(fresh._taps))
        return chain.forward(x)

    fresh = FrameChain(forward, 2, layout, layout, ChromaUpscaler(2, (1, 1), (1, 1)))
    ring = FramesInFlight(fresh, depth=2)
    (y, c), = _frames(1, h=13, w=19)
    ring.submit(y, c)
    assert taps_when_slot_ran == [[(0, 7, 13), (1, 10, 19)]]  # (axis, chroma in, chroma out)
    out = ring.output_shapes(13, 19)
    ring.collect(np.empty(out[0], np.uint8), np.empty((2, *out[1]), np.uint8))
