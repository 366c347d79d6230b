"""The picture the preview shows: bicubic and CNN halves laid out, with labels and statistics.

Two layouts: ``side`` puts the halves side by side (width 2 x s*W); ``split`` shows one picture of
size s*W with bicubic left of a movable vertical line and the CNN right of it. Text is drawn with
Pillow (always installed), so the web page works without OpenCV.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

LAYOUTS = ("side", "split")


def side_by_side(bicubic: np.ndarray, cnn: np.ndarray) -> np.ndarray:
    """Bicubic left, CNN right: (s*H, 2*s*W, 3) uint8."""
    return np.concatenate([bicubic, cnn], axis=1)


def split_view(bicubic: np.ndarray, cnn: np.ndarray, split: float) -> np.ndarray:
    """Bicubic left of column ``split`` x width (``split`` in [0, 1]), CNN right of it, with a line there."""
    width = bicubic.shape[1]
    column = split_column(width, split)
    picture = cnn.copy()
    picture[:, :column] = bicubic[:, :column]
    picture[:, max(column - 1, 0) : column + 1] = 255
    return picture


def split_column(width: int, split: float) -> int:
    return int(round(min(max(split, 0.0), 1.0) * width))


def compose(bicubic: np.ndarray, cnn: np.ndarray, layout: str = "side", split: float = 0.5, labels: tuple[str, str] = ("bicubic", "CNN"), status: str = "") -> np.ndarray:
    """The finished picture: the halves in ``layout``, each labelled, and ``status`` along the bottom."""
    if layout == "side":
        picture = side_by_side(bicubic, cnn)
        label_x = (0, bicubic.shape[1])
        right_aligned = (False, False)
    elif layout == "split":
        picture = split_view(bicubic, cnn, split)
        label_x = (0, picture.shape[1])
        right_aligned = (False, True)
    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, not {layout!r}")
    font = _font(_text_px(picture.shape[0]))
    for text, x, right in zip(labels, label_x, right_aligned):
        draw_text(picture, text, x, 0, font, align_right=right)
    if status:
        draw_text(picture, status, 0, picture.shape[0], font, from_bottom=True, full_width=True)
    return picture


def _text_px(height: int) -> int:
    return int(min(max(height // 24, 10), 20))


@lru_cache(maxsize=8)
def _font(size_px: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size_px)


def draw_text(picture: np.ndarray, text: str, x: int, y: int, font, align_right: bool = False, from_bottom: bool = False, full_width: bool = False) -> None:
    """Write ``text`` in white on a darkened box, in place; only the box goes through Pillow."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    pad = max(2, (bottom - top) // 4)
    box_w, box_h = right + 2 * pad, bottom + 2 * pad
    height, width = picture.shape[:2]
    x0 = 0 if full_width else (x - box_w if align_right else x)
    x0 = min(max(x0, 0), max(width - 1, 0))
    x1 = width if full_width else min(x0 + box_w, width)
    y0 = max(y - box_h, 0) if from_bottom else y
    y1 = min(y0 + box_h, height)
    if x1 <= x0 or y1 <= y0:
        return
    region = picture[y0:y1, x0:x1]
    box = Image.fromarray((region // 3).astype(np.uint8))  # darkened, so the text reads on any picture
    ImageDraw.Draw(box).text((pad, pad), text, font=font, fill=(255, 255, 255))
    region[...] = np.asarray(box)
