"""Backends that run a model: one interface (:class:`Runner`), chosen by name.

``make_backend(name, device, precision)`` gives a backend value (a frozen dataclass of its knobs);
``build_runner(model, backend)`` gives a runner with fallback, the fp16 guard and tiling applied.
The backends are registered here by name: ``torch`` (``torch_backend.py``), ``onnxruntime``
(``onnxruntime.py``, optional extra ``vsr[onnx]``) and ``tensorrt`` (``tensorrt.py``, optional
extra ``vsr[tensorrt]``; imported only when used).
"""
from __future__ import annotations

from .base import OutOfMemory, Runner
from .onnxruntime import OnnxRuntimeBackend
from .selection import BACKEND_NAMES, AutoBackend, build_runner, make_backend
from .tensorrt import TensorRTBackend
from .torch_backend import TorchBackend

__all__ = [
    "Runner",
    "OutOfMemory",
    "AutoBackend",
    "TorchBackend",
    "OnnxRuntimeBackend",
    "TensorRTBackend",
    "make_backend",
    "build_runner",
    "BACKEND_NAMES",
]
