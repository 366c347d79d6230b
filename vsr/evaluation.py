"""``vsr eval``: Y-PSNR / Y-SSIM of a model and of bicubic under the published protocol.

Protocol (SRCNN/ESPCN/MSRN evaluation scripts): HR cropped to a multiple of the scale; LR made by
MATLAB's bicubic ``imresize`` of the RGB HR (or read from a folder of MATLAB-made LR images); PSNR
and SSIM on the BT.601 limited-range Y channel, rounded to 8 bits, ``scale`` pixels shaved at each
border. Bicubic is our MATLAB-compatible ``imresize`` of the LR Y.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .backends.base import Runner
from .errors import InputError
from .imaging.color import rgb_to_y_bt601_uint8
from .imaging.image_io import read_image
from .imaging.metrics import psnr_y, ssim_y
from .imaging.resize import imresize
from .training.data import list_images


@dataclass(frozen=True)
class ImageScore:
    name: str
    psnr: float
    ssim: float
    bicubic_psnr: float
    bicubic_ssim: float


def _rgb_uint8(path: Path) -> np.ndarray:
    pixels = read_image(path).pixels
    if pixels.dtype != np.uint8:
        raise InputError(f"{path}: the published protocol is defined on 8-bit images")
    if pixels.shape[2] in (1, 2):
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_y_bt601_uint8(rgb)


def _to_uint8(plane01: np.ndarray) -> np.ndarray:
    return np.clip(np.round(plane01 * 255.0), 0, 255).astype(np.uint8)


def evaluate_pair(hr_rgb: np.ndarray, lr_rgb: np.ndarray | None, runner: Runner, name: str = "") -> ImageScore:
    """Scores of one image. ``lr_rgb`` None: made from ``hr_rgb`` with the MATLAB bicubic."""
    s = runner.scale
    h, w = (hr_rgb.shape[0] // s) * s, (hr_rgb.shape[1] // s) * s
    hr_rgb = hr_rgb[:h, :w]
    if lr_rgb is None:
        lr_rgb = imresize(hr_rgb, 1.0 / s)
    elif lr_rgb.shape[0] * s != h or lr_rgb.shape[1] * s != w:
        raise InputError(f"{name}: LR {lr_rgb.shape[1]}x{lr_rgb.shape[0]} is not HR {w}x{h} / {s}")
    hr_y, lr_y = _luma(hr_rgb), _luma(lr_rgb)
    sr_y = _to_uint8(runner.run(lr_y[None].astype(np.float32) / 255.0)[0])
    bic_y = imresize(lr_y, float(s))
    return ImageScore(
        name=name,
        psnr=psnr_y(sr_y, hr_y, shave=s),
        ssim=ssim_y(sr_y, hr_y, shave=s),
        bicubic_psnr=psnr_y(bic_y, hr_y, shave=s),
        bicubic_ssim=ssim_y(bic_y, hr_y, shave=s),
    )


def evaluate_folder(hr_dir: str | os.PathLike, runner: Runner, lr_dir: str | os.PathLike | None = None, progress=None) -> list[ImageScore]:
    """Scores of every image of ``hr_dir`` (LR images matched by file name in ``lr_dir``)."""
    scores = []
    files = list_images(hr_dir)
    for i, hr_path in enumerate(files):
        lr_rgb = None
        if lr_dir is not None:
            lr_path = Path(lr_dir) / hr_path.name
            if not lr_path.is_file():
                raise InputError(f"{lr_path}: no LR image for {hr_path.name}")
            lr_rgb = _rgb_uint8(lr_path)
        scores.append(evaluate_pair(_rgb_uint8(hr_path), lr_rgb, runner, hr_path.name))
        if progress:
            progress(i + 1, len(files))
    return scores


def summarise(scores: list[ImageScore]) -> dict:
    """Per-image rows and their means, as written by ``--json``."""
    fields = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")
    return {
        "images": [asdict(s) for s in scores],
        "mean": {f: float(np.mean([getattr(s, f) for s in scores])) for f in fields},
    }


def format_table(scores: list[ImageScore], model_label: str) -> str:
    """A readable per-image and mean table."""
    name_w = max([len(s.name) for s in scores] + [5])
    head = f"{'image':<{name_w}}  {model_label + ' PSNR':>14}  {'SSIM':>7}  {'bicubic PSNR':>12}  {'SSIM':>7}"
    lines = [head, "-" * len(head)]
    for s in scores:
        lines.append(f"{s.name:<{name_w}}  {s.psnr:>14.3f}  {s.ssim:>7.4f}  {s.bicubic_psnr:>12.3f}  {s.bicubic_ssim:>7.4f}")
    m = summarise(scores)["mean"]
    lines.append("-" * len(head))
    lines.append(f"{'mean':<{name_w}}  {m['psnr']:>14.3f}  {m['ssim']:>7.4f}  {m['bicubic_psnr']:>12.3f}  {m['bicubic_ssim']:>7.4f}")
    return "\n".join(lines)
