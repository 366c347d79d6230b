"""``vsr eval``: Y-PSNR / Y-SSIM of a model and of bicubic under the published protocol.

Protocol (SRCNN/ESPCN/MSRN evaluation scripts): HR cropped to a multiple of the scale; LR made by
MATLAB's bicubic ``imresize`` of the RGB HR (or read from a folder of MATLAB-made LR images); PSNR
and SSIM on the BT.601 limited-range Y channel, rounded to 8 bits, ``scale`` pixels shaved at each
border. Bicubic is our MATLAB-compatible ``imresize`` of the LR Y.

A *method* is any function from an LR RGB uint8 image to an SR Y uint8 plane, so the same scoring
serves vsr's models, bicubic, and peers such as OpenCV's ``dnn_superres`` (see ``vsr.benchmark``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .backends.base import Runner
from .errors import InputError
from .imaging.color import rgb_to_y_bt601_uint8
from .imaging.image_io import list_images, read_image
from .imaging.luma import y8_from_model, y8_to_model
from .imaging.metrics import psnr_y, ssim_y
from .imaging.resize import imresize

Method = Callable[[np.ndarray, int], np.ndarray]  # (LR RGB uint8, scale) -> SR Y uint8


@dataclass(frozen=True)
class ProtocolPair:
    """One test image: HR Y (cropped to a multiple of the scale) and the LR RGB image."""

    name: str
    hr_y: np.ndarray
    lr_rgb: np.ndarray


def read_rgb_uint8(path: Path) -> np.ndarray:
    pixels = read_image(path).pixels
    if pixels.dtype != np.uint8:
        raise InputError(f"{path}: the published protocol is defined on 8-bit images")
    if pixels.shape[2] in (1, 2):
        return np.repeat(pixels[:, :, :1], 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, :3])


def make_protocol_pair(name: str, hr_rgb: np.ndarray, scale: int, lr_rgb: np.ndarray | None = None) -> ProtocolPair:
    h, w = (hr_rgb.shape[0] // scale) * scale, (hr_rgb.shape[1] // scale) * scale
    hr_rgb = hr_rgb[:h, :w]
    if lr_rgb is None:
        lr_rgb = imresize(hr_rgb, 1.0 / scale)
    elif lr_rgb.shape[0] * scale != h or lr_rgb.shape[1] * scale != w:
        raise InputError(f"{name}: LR {lr_rgb.shape[1]}x{lr_rgb.shape[0]} is not HR {w}x{h} / {scale}")
    return ProtocolPair(name, rgb_to_y_bt601_uint8(hr_rgb), lr_rgb)


def protocol_pairs(hr_dir: str | os.PathLike, scale: int, lr_dir: str | os.PathLike | None = None) -> Iterator[ProtocolPair]:
    """The test pairs of a folder of HR images (LR matched by file name in ``lr_dir``, if given)."""
    for hr_path in list_images(hr_dir):
        lr_rgb = None
        if lr_dir is not None:
            lr_path = Path(lr_dir) / hr_path.name
            if not lr_path.is_file():
                raise InputError(f"{lr_path}: no LR image for {hr_path.name}")
            lr_rgb = read_rgb_uint8(lr_path)
        yield make_protocol_pair(hr_path.name, read_rgb_uint8(hr_path), scale, lr_rgb)


def bicubic_method(lr_rgb: np.ndarray, scale: int) -> np.ndarray:
    """The tables' bicubic baseline: MATLAB ``imresize`` of the LR Y plane."""
    return imresize(rgb_to_y_bt601_uint8(lr_rgb), float(scale))


def model_method(runner: Runner) -> Method:
    """A vsr model as a method: LR Y through the runner, rounded to 8 bits."""

    def run(lr_rgb: np.ndarray, scale: int) -> np.ndarray:
        lr_y = y8_to_model(rgb_to_y_bt601_uint8(lr_rgb))
        return y8_from_model(runner.run(lr_y[None])[0])

    return run


def score(method: Method, pair: ProtocolPair, scale: int) -> tuple[float, float]:
    """(PSNR dB, SSIM) of one method on one pair, ``scale`` pixels shaved."""
    sr_y = method(pair.lr_rgb, scale)
    return psnr_y(sr_y, pair.hr_y, shave=scale), ssim_y(sr_y, pair.hr_y, shave=scale)


def evaluate_methods(pairs, methods: dict[str, Method], scale: int, progress=None) -> dict:
    """{"images": [{name, <method>: {psnr, ssim}}...], "mean": {<method>: {psnr, ssim}}}."""
    rows = []
    for pair in pairs:
        row = {"name": pair.name}
        for label, method in methods.items():
            p, s = score(method, pair, scale)
            row[label] = {"psnr": p, "ssim": s}
        rows.append(row)
        if progress:
            progress(pair.name)
    if not rows:
        raise InputError("no images to evaluate")
    mean = {label: {k: float(np.mean([r[label][k] for r in rows])) for k in ("psnr", "ssim")} for label in methods}
    return {"images": rows, "mean": mean}


def evaluate_folder(hr_dir, runner: Runner, lr_dir=None) -> dict:
    """``vsr eval``'s figures: the model and bicubic on every image of ``hr_dir``."""
    methods = {"model": model_method(runner), "bicubic": bicubic_method}
    return evaluate_methods(protocol_pairs(hr_dir, runner.scale, lr_dir), methods, runner.scale)


def format_table(result: dict, labels: dict[str, str] | None = None) -> str:
    """Per-image rows and the mean: PSNR (dB) / SSIM for each method."""
    methods = list(result["mean"])
    labels = labels or {}
    name_w = max([len(r["name"]) for r in result["images"]] + [5])
    cols = [f"{labels.get(m, m):>22}" for m in methods]
    head = f"{'image':<{name_w}}  " + "  ".join(cols)
    lines = [head, f"{'':<{name_w}}  " + "  ".join(f"{'PSNR dB / SSIM':>22}" for _ in methods), "-" * len(head)]

    def cells(entry):
        return "  ".join(f"{entry[m]['psnr']:>13.3f} / {entry[m]['ssim']:.4f}" for m in methods)

    for row in result["images"]:
        lines.append(f"{row['name']:<{name_w}}  {cells(row)}")
    lines += ["-" * len(head), f"{'mean':<{name_w}}  {cells(result['mean'])}"]
    return "\n".join(lines)
