"""ONNX export of a vsr model with dynamic batch, height and width, and its on-disk cache.

The graph has one input ``x`` (N, 1, H, W) float32 and one output ``y`` (N, 1, sH, sW) float32;
ONNX Runtime and TensorRT both start from it.
"""
from __future__ import annotations

import copy
import io
import os
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import ConfigError
from .blocked_subpixel import GRAPH_TAG, BlockedSubPixel, pad_blocked_conv
from .cache import cache_dir, key_of, state_digest, write_atomically

DEFAULT_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "x", "y"


def onnx_bytes(model: nn.Module, opset: int = DEFAULT_OPSET, blocked: bool = False) -> bytes:
    """The serialised ONNX graph of ``model`` (fp32, on CPU; the model itself is not changed).

    ``blocked``: rewrite the sub-pixel layer for CPU runtimes (:mod:`.blocked_subpixel`); same
    output, faster on ONNX Runtime's CPU provider.
    """
    try:
        import onnx  # noqa: F401  (the TorchScript exporter needs it)
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'vsr[onnx]'") from None
    model = _cpu_fp32_copy(model)
    if blocked:
        model = BlockedSubPixel(model).eval()
    example = torch.rand(1, 1, 24, 32)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is "legacy" in torch >= 2.9; the dynamo one needs onnxscript and
        # gives the same graph for these convolutional models.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_axes={INPUT_NAME: {0: "n", 2: "h", 3: "w"}, OUTPUT_NAME: {0: "n", 2: "sh", 3: "sw"}},
            do_constant_folding=True,
            dynamo=False,
        )
    return pad_blocked_conv(buffer.getvalue()) if blocked else buffer.getvalue()


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET, blocked: bool = False) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the path."""
    path = Path(path)
    write_atomically(path, onnx_bytes(model, opset, blocked))
    return path


def onnx_cache_key(model: nn.Module, opset: int, runtime: str, blocked: bool = False) -> dict:
    """Everything that changes the exported graph, or what a runtime makes of it."""
    return {
        "graph": GRAPH_TAG if blocked else "plain",
        "model": getattr(model, "registry_name", type(model).__name__),
        "scale": model.scale,
        "config": getattr(model, "config", {}),
        "weights": state_digest(model),
        "opset": opset,
        "torch": torch.__version__,
        "runtime": runtime,
    }


def cached_onnx(
    model: nn.Module, opset: int = DEFAULT_OPSET, runtime: str = "", folder: str | os.PathLike | None = None, blocked: bool = False
) -> tuple[Path, bool]:
    """The ONNX file for ``model`` in the cache (exported on a miss) and whether it was a hit.

    ``runtime`` names the consumer and its version (``onnxruntime-1.32.0``), part of the key
    because a runtime upgrade may need a newer opset; ``folder`` overrides the cache root;
    ``blocked`` asks for the CPU form of the sub-pixel layer (see :func:`onnx_bytes`).
    """
    fields = onnx_cache_key(model, opset, runtime, blocked)
    name = f"{fields['model']}_x{fields['scale']}_{key_of(fields)}.onnx"
    try:
        path = cache_dir(folder, "onnx") / name
        if path.is_file():
            return path, True
        return export_onnx(model, path, opset, blocked), False
    except OSError:
        # A read-only or full cache must not stop inference: export to a private temporary folder.
        return export_onnx(model, Path(tempfile.mkdtemp(prefix="vsr-onnx-")) / name, opset, blocked), False


def _cpu_fp32_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).eval().to(device="cpu", dtype=torch.float32, memory_format=torch.contiguous_format)
