"""Backends that run a model: one interface (:class:`Runner`), chosen by name.

``make_backend(name, device, precision)`` gives a backend value (a frozen dataclass of its knobs);
``build_runner(model, backend)`` gives a runner with fallback, the fp16 guard and tiling applied.
The backend classes are registered by name in ``selection.BACKENDS``: ``tensorrt``
(``tensorrt.py``, optional extra ``vsr[tensorrt]``; imported only when used), ``openvino``
(``openvino.py``: bf16 on CPUs where it pays, ``bf16_speed.py``), ``onnxruntime`` (``onnxruntime.py``) and
``torch`` (``torch_backend.py``); each class owns its defaults and says whether it uses a GPU.
"""
from __future__ import annotations

import importlib

from .base import OutOfMemory, Runner

# Resolved on first use (PEP 562): importing a light submodule such as ``vsr.backends.base``
# must not import torch, or every command (even `vsr --help`) would pay its 2 s start-up.
_LAZY = {
    "OnnxRuntimeBackend": ".onnxruntime",
    "OpenVinoBackend": ".openvino",
    "BACKEND_NAMES": ".selection",
    "BACKENDS": ".selection",
    "backend_class": ".selection",
    "AutoBackend": ".selection",
    "build_runner": ".selection",
    "make_backend": ".selection",
    "TensorRTBackend": ".tensorrt",
    "TorchBackend": ".torch_backend",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Runner",
    "OutOfMemory",
    "AutoBackend",
    "TorchBackend",
    "OnnxRuntimeBackend",
    "OpenVinoBackend",
    "TensorRTBackend",
    "make_backend",
    "build_runner",
    "BACKEND_NAMES",
    "BACKENDS",
    "backend_class",
]
