"""Peers measured beside vsr in the same run: OpenCV's ``dnn_superres`` ESPCN and FSRCNN.

``dnn_superres`` exists only in opencv-contrib 4.x (``pip install 'opencv-contrib-python-headless<5'``);
where it is missing, :func:`opencv_unavailable_reason` says why and the benchmark shows that instead.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..imaging.color import rgb_to_y_bt601_uint8


def opencv_unavailable_reason() -> str | None:
    """None when ``cv2.dnn_superres`` can be used, else a short reason."""
    try:
        import cv2
    except ImportError:
        return "OpenCV not installed (pip install 'opencv-contrib-python-headless<5')"
    if not hasattr(cv2, "dnn_superres"):
        return f"OpenCV {cv2.__version__} has no dnn_superres (needs opencv-contrib 4.x)"
    return None


class OpenCvSuperRes:
    """An OpenCV ``dnn_superres`` model, e.g. ``OpenCvSuperRes("espcn", 3, models_dir)``."""

    def __init__(self, algorithm: str, scale: int, models_dir: str | Path):
        import cv2

        file_name = {"espcn": "ESPCN", "fsrcnn": "FSRCNN", "fsrcnn-small": "FSRCNN-small"}[algorithm]
        path = Path(models_dir) / f"{file_name}_x{scale}.pb"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: OpenCV model not found")
        self.algorithm, self.scale = algorithm, scale
        self._sr = cv2.dnn_superres.DnnSuperResImpl_create()
        self._sr.readModel(str(path))
        self._sr.setModel(algorithm.split("-")[0], scale)

    def upsample_bgr(self, bgr: np.ndarray) -> np.ndarray:
        return self._sr.upsample(bgr)

    def method(self, lr_rgb: np.ndarray, scale: int) -> np.ndarray:
        """As an evaluation method: LR RGB -> SR Y (OpenCV handles the colour itself)."""
        bgr = np.ascontiguousarray(lr_rgb[:, :, ::-1])
        return rgb_to_y_bt601_uint8(np.ascontiguousarray(self.upsample_bgr(bgr)[:, :, ::-1]))
