"""Training data: luma planes of HR images, their MATLAB-bicubic LR, and random aligned patches.

LR images are made once per image by :func:`vsr.imaging.resize.imresize` (the protocol's bicubic)
and rounded to 8 bits, as the test images are. Patches are drawn by a plan that depends only on
(seed, epoch), so a resumed run sees exactly the patches an unbroken run would, whatever the
number of loader workers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from ..imaging.color import rgb_to_y_bt601_uint8
from ..imaging.image_io import list_images, read_image
from ..imaging.luma import grey8_to_y8, y8_to_model
from ..imaging.resize import imresize


def luma_uint8(path: Path) -> np.ndarray:
    """The BT.601 limited-range Y plane (MATLAB rounding) of an 8-bit image file."""
    pixels = read_image(path).pixels
    if pixels.dtype != np.uint8:
        pixels = (pixels.astype(np.float64) / 257.0).round().astype(np.uint8)
    if pixels.shape[2] in (1, 2):
        return grey8_to_y8(pixels[:, :, 0])
    return rgb_to_y_bt601_uint8(np.ascontiguousarray(pixels[:, :, :3]))


@dataclass(frozen=True)
class LumaPair:
    """An HR luma plane cropped to a multiple of ``scale`` and its LR counterpart (uint8)."""

    lr: np.ndarray
    hr: np.ndarray
    name: str


def make_pair(hr_y: np.ndarray, scale: int, name: str = "") -> LumaPair:
    """``hr_y`` cropped to a multiple of ``scale`` (a view: patches are copied out when drawn) and its LR."""
    h, w = (hr_y.shape[0] // scale) * scale, (hr_y.shape[1] // scale) * scale
    hr = hr_y[:h, :w]
    return LumaPair(lr=imresize(hr, 1.0 / scale), hr=hr, name=name)


def phase_pairs(hr_y: np.ndarray, scale: int, name: str = "") -> list[LumaPair]:
    """The image as ``scale``² pairs, its HR cropped from each offset (dy, dx) in [0, scale)².

    Each offset puts the LR sampling grid at another sub-pixel phase of the scene, so one HR image
    gives ``scale``² different LR images (other aliasing, the same statistics) for the cost of
    ``scale``² bicubic shrinks; the HR planes are views of one array.
    """
    return [make_pair(hr_y[dy:, dx:], scale, f"{name}+{dy},{dx}") for dy in range(scale) for dx in range(scale)]


def load_pairs(directories: list[str | Path], scale: int, shrink_factors: tuple[float, ...] = (),
               phases: bool = False) -> list[LumaPair]:
    """Every image of ``directories`` as an (LR, HR) luma pair.

    Each factor of ``shrink_factors`` (each in (0, 1)) adds the image shrunk by it, by the same
    bicubic, as one more HR image: FSRCNN's scaling augmentation, which shows a small network the
    same content at finer detail densities. ``phases`` makes every image (shrunk or not) ``scale``²
    pairs, one per sub-pixel phase of the LR grid (:func:`phase_pairs`): more distinct LR images
    of the very same content, for a network large enough to learn its training set by heart.
    """
    def pairs_of(hr_y: np.ndarray, name: str) -> list[LumaPair]:
        return phase_pairs(hr_y, scale, name) if phases else [make_pair(hr_y, scale, name)]

    pairs = []
    for directory in directories:
        for path in list_images(directory):
            hr_y = luma_uint8(path)
            pairs.extend(pairs_of(hr_y, path.name))
            for f in shrink_factors:
                pairs.extend(pairs_of(imresize(hr_y, f), f"{path.name}@{f:g}"))
    return pairs


def _dihedral(patch: np.ndarray, code: int) -> np.ndarray:
    """One of the 8 flips/rotations of a square patch."""
    if code & 4:
        patch = patch.T
    return np.rot90(patch, code & 3)


class PatchDataset(Dataset):
    """Random aligned LR/HR patches with flips and rotations; ``set_epoch`` draws a new plan.

    Items are (LR (1, p, p), HR (1, s*p, s*p)) float32 tensors in [0, 1]; ``p`` is the LR patch size.

    With ``context`` c > 0, each patch comes inside a window of side p + 2c, moved inward where the
    image ends, and items gain a third tensor: the HR loss weight, 1 on the patch, 0 elsewhere. With
    c at least the model's receptive radius, every weighted output pixel is exactly what inference
    on the whole image computes there: full context inside the image, the model's own border (zeros
    or replicated edge pixels) at the image's edges. Plain patches instead train every pixel near
    the patch edge against a false border.
    """

    def __init__(self, pairs: list[LumaPair], scale: int, lr_patch: int, patches_per_epoch: int, seed: int,
                 augment: bool = True, context: int = 0):
        window = lr_patch + 2 * context
        usable = [pair for pair in pairs if min(pair.lr.shape) >= window]
        if not usable:
            raise InputError(f"no training image is at least {window * scale} pixels on each side")
        self.pairs, self.scale, self.lr_patch, self.context = usable, scale, lr_patch, context
        self.patches_per_epoch, self.seed, self.augment = patches_per_epoch, seed, augment
        # Sample images in proportion to the patch positions they offer.
        areas = np.array([(p.lr.shape[0] - lr_patch + 1) * (p.lr.shape[1] - lr_patch + 1) for p in usable], dtype=np.float64)
        self._weights = areas / areas.sum()
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        rng = np.random.default_rng([self.seed, epoch])
        n = self.patches_per_epoch
        self._image = rng.choice(len(self.pairs), size=n, p=self._weights)
        limits_y = np.array([p.lr.shape[0] - self.lr_patch + 1 for p in self.pairs])[self._image]
        limits_x = np.array([p.lr.shape[1] - self.lr_patch + 1 for p in self.pairs])[self._image]
        self._y = (rng.random(n) * limits_y).astype(np.int64)
        self._x = (rng.random(n) * limits_x).astype(np.int64)
        self._aug = rng.integers(0, 8, size=n) if self.augment else np.zeros(n, dtype=np.int64)

    def __len__(self) -> int:
        return self.patches_per_epoch

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        pair = self.pairs[self._image[i]]
        p, s, c = self.lr_patch, self.scale, self.context
        window = p + 2 * c
        y, x = int(self._y[i]), int(self._x[i])  # the patch's corner
        wy = min(max(y - c, 0), pair.lr.shape[0] - window)  # the window's corner, inside the image
        wx = min(max(x - c, 0), pair.lr.shape[1] - window)
        code = int(self._aug[i])
        lr = _dihedral(pair.lr[wy : wy + window, wx : wx + window], code)
        hr = _dihedral(pair.hr[wy * s : (wy + window) * s, wx * s : (wx + window) * s], code)
        item = (
            torch.from_numpy(y8_to_model(np.ascontiguousarray(lr)))[None],
            torch.from_numpy(y8_to_model(np.ascontiguousarray(hr)))[None],
        )
        if not c:
            return item
        weight = np.zeros((window * s, window * s), dtype=np.float32)
        weight[(y - wy) * s : (y - wy + p) * s, (x - wx) * s : (x - wx + p) * s] = 1.0
        return item + (torch.from_numpy(np.ascontiguousarray(_dihedral(weight, code)))[None],)
