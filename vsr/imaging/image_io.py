"""Reading and writing still images, keeping their bit depth and alpha.

Pillow handles 8-bit images and 16-bit grey; it silently reduces 16-bit colour PNGs to 8 bits, so
those go through PyAV's PNG codec instead, which keeps all 16 bits.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, OutputError

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True)
class Image:
    """Pixels as (H, W, C) uint8 or uint16, with C = 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)."""

    pixels: np.ndarray

    @property
    def max_value(self) -> int:
        return int(np.iinfo(self.pixels.dtype).max)

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] in (2, 4)

    @property
    def is_grey(self) -> bool:
        return self.pixels.shape[2] in (1, 2)


def is_image_path(path: str | os.PathLike) -> bool:
    """True when the file name has a still-image extension vsr reads."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(directory: str | os.PathLike, hint: str = "") -> list[Path]:
    """Image files directly inside ``directory`` (by extension), sorted by name; InputError when
    it is not a directory or holds none (``hint`` is appended to that message)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    files = sorted(p for p in directory.iterdir() if is_image_path(p) and p.is_file())
    if not files:
        raise InputError(f"{directory}: no images found{hint}")
    return files


def image_bits(path: str | os.PathLike) -> int:
    """Bits per sample of an image file (8 or 16), from its header alone (nothing decoded);
    8 for a file Pillow cannot identify (reading it will say what is wrong)."""
    from PIL import Image as PILImage

    path = Path(path)
    try:
        if path.suffix.lower() == ".png" and _png_is_16bit_colour(path):
            return 16
        with PILImage.open(path) as img:
            return 16 if img.mode in ("I;16", "I;16B", "I;16L", "I") else 8
    except Exception:  # noqa: BLE001 - any unreadable file: its job reports it
        return 8


def _png_is_16bit_colour(path: Path) -> bool:
    with open(path, "rb") as f:
        header = f.read(26)
    # IHDR: bit depth at byte 24, colour type at 25 (2 = RGB, 6 = RGBA).
    return header[:8] == b"\x89PNG\r\n\x1a\n" and len(header) == 26 and header[24] == 16 and header[25] in (2, 6)


def _read_png16_colour(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        has_alpha = "a" in frame.format.name
        return frame.to_ndarray(format="rgba64le" if has_alpha else "rgb48le")


def _from_pillow(img) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        arr = np.asarray(img.convert("I")).astype(np.uint16)
        return arr[:, :, None]
    if mode == "I":  # 16-bit PNGs can arrive as 32-bit 'I'; their values fit 16 bits
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)[:, :, None]
    if mode in ("1", "L", "P", "PA", "LA", "RGB", "RGBA", "CMYK", "YCbCr", "F"):
        if mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif mode == "PA":
            img = img.convert("RGBA")
        elif mode in ("1", "F"):
            img = img.convert("L")
        elif mode in ("CMYK", "YCbCr"):
            img = img.convert("RGB")
        arr = np.asarray(img)
        return arr[:, :, None] if arr.ndim == 2 else arr
    raise InputError(f"unsupported image mode {mode!r}")


def read_image(path: str | os.PathLike) -> Image:
    """Read an image file; raises :class:`InputError` with a one-line reason when it cannot."""
    from PIL import Image as PILImage, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")
    try:
        if path.suffix.lower() == ".png" and _png_is_16bit_colour(path):
            return Image(_read_png16_colour(path))
        with PILImage.open(path) as img:
            img.load()  # forces the full decode, so truncation shows up here
            return Image(np.ascontiguousarray(_from_pillow(img)))
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image vsr can read") from None
    except (OSError, SyntaxError, ValueError, StopIteration) as exc:
        raise InputError(f"{path}: cannot decode image ({exc})") from None
    except Exception as exc:  # PyAV's errors for corrupt 16-bit PNGs
        if type(exc).__module__.startswith("av"):
            raise InputError(f"{path}: cannot decode image ({exc})") from None
        raise


def _write_png16_colour(pixels: np.ndarray, path: Path) -> None:
    import av

    fmt = "rgba64le" if pixels.shape[2] == 4 else "rgb48le"
    out_fmt = "rgba64be" if pixels.shape[2] == 4 else "rgb48be"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=fmt)
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = pixels.shape[1], pixels.shape[0], out_fmt
        for packet in stream.encode(frame.reformat(format=out_fmt)):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def write_image(image: Image, path: str | os.PathLike, fmt: str | None = None) -> None:
    """Write ``image`` to ``path`` (format from ``fmt`` or the extension). Not atomic: see callers."""
    from PIL import Image as PILImage

    path = Path(path)
    pixels = image.pixels
    channels = pixels.shape[2]
    fmt = (fmt or path.suffix.lstrip(".") or "png").lower()
    if pixels.dtype == np.uint16:
        if fmt != "png":
            raise OutputError(f"{path}: 16-bit images can only be written as PNG")
        if channels >= 3:
            _write_png16_colour(pixels, path)
            return
        if channels == 2:  # Pillow has no 16-bit grey+alpha mode; PyAV's PNG codec has ya16
            _write_png16_colour(np.concatenate([pixels[:, :, :1]] * 3 + [pixels[:, :, 1:]], axis=2), path)
            return
        PILImage.fromarray(np.ascontiguousarray(pixels[:, :, 0])).save(path, format="PNG")  # uint16 -> I;16
        return
    arr = np.ascontiguousarray(pixels[:, :, 0] if channels == 1 else pixels)
    pil_format = {"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF"}.get(fmt, fmt.upper())
    img = PILImage.fromarray(arr)  # mode follows the shape: L, LA, RGB, RGBA
    if pil_format == "JPEG" and img.mode in ("LA", "RGBA"):
        raise OutputError(f"{path}: JPEG cannot hold alpha; write PNG instead")
    img.save(path, format=pil_format)
