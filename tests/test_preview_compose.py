"""The composed picture: layouts, sizes, and text that stays in its boxes."""
from __future__ import annotations

import numpy as np
import pytest

from vsr.preview.compose import compose, side_by_side, split_view

H, W = 96, 128
BICUBIC = np.full((H, W, 3), 50, np.uint8)
CNN = np.full((H, W, 3), 200, np.uint8)


def test_side_by_side_is_bicubic_then_cnn():
    picture = side_by_side(BICUBIC, CNN)
    assert picture.shape == (H, 2 * W, 3)
    assert (picture[:, :W] == 50).all() and (picture[:, W:] == 200).all()


@pytest.mark.parametrize("split", [0.0, 0.25, 0.5, 1.0])
def test_split_view_puts_bicubic_left_of_the_line(split):
    picture = split_view(BICUBIC, CNN, split)
    column = int(round(split * W))
    assert picture.shape == (H, W, 3)
    assert (picture[:, : max(column - 1, 0)] == 50).all()
    assert (picture[:, column + 1 :] == 200).all()


def test_labels_and_status_are_drawn_in_boxes_and_nowhere_else():
    picture = compose(BICUBIC, CNN, "side", labels=("bicubic", "espcn x2"), status="espcn x2 | 30.0 fps")
    assert picture.shape == (H, 2 * W, 3)
    assert (picture[0:8, 2:30] != 50).any()  # "bicubic" label, top left
    assert (picture[0:8, W + 2 : W + 30] != 200).any()  # model label, top of the right half
    assert (picture[-6:, 2:60] != 50).any()  # status line
    middle = picture[H // 2 - 10 : H // 2 + 10]
    assert (middle[:, :W] == 50).all() and (middle[:, W:] == 200).all()


def test_unknown_layout():
    with pytest.raises(ValueError):
        compose(BICUBIC, CNN, "diagonal")
