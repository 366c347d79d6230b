"""ONNX export of a vsr model with dynamic batch, height and width, and its on-disk cache.

The graph has one input ``x`` (N, 1, H, W) float32 and one output ``y`` (N, 1, sH, sW) float32;
ONNX Runtime and TensorRT both start from it. The exporter folds constants (``do_constant_folding``),
so the graph TensorRT parses has no foldable subgraphs left; :func:`fp16_graph` derives the fp16
form TensorRT's strongly typed networks need.
"""
from __future__ import annotations

import copy
import hashlib
import io
import os
import tempfile
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import ConfigError
from .blocked_subpixel import GRAPH_TAG, BlockedSubPixel, pad_blocked_conv
from ..files import digest_of, write_atomically
from .cache import cache_dir
from .onnx_names import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME



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


def fp16_graph(data: bytes) -> bytes:
    """The fp32 graph ``data`` with its weights and float constants in fp16, and its input and
    output kept fp32 (a Cast after ``x``, a Cast before ``y``).

    For TensorRT's strongly typed networks (the only kind from TensorRT 11, the advised one from
    10.12), where precision comes from the graph's types instead of a builder flag; vs-mlrt builds
    its fp16 engines the same way. The I/O stays fp32 so every consumer feeds the same buffers;
    inside, every convolution runs in fp16 with fp16 accumulation left to TensorRT.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype("float16"), init.name))
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype("float16"), attr.t.name))
        for attr in node.attribute:  # Cast(to=float), e.g. around a mean shift, stays in fp16
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    # Inner tensors' recorded types would contradict the new ones: let the consumer infer them.
    del graph.value_info[:]
    half_in, half_out = f"{INPUT_NAME}_fp16", f"{OUTPUT_NAME}_fp16"
    for node in graph.node:
        node.input[:] = [half_in if name == INPUT_NAME else name for name in node.input]
        node.output[:] = [half_out if name == OUTPUT_NAME else name for name in node.output]
    graph.node.insert(0, helper.make_node("Cast", [INPUT_NAME], [half_in], to=TensorProto.FLOAT16, name="vsr_input_to_fp16"))
    graph.node.append(helper.make_node("Cast", [half_out], [OUTPUT_NAME], to=TensorProto.FLOAT, name="vsr_output_to_fp32"))
    return model.SerializeToString()


def export_onnx(model: nn.Module, path: str | os.PathLike, opset: int = DEFAULT_OPSET, blocked: bool = False) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically) and return the path."""
    path = Path(path)
    write_atomically(path, onnx_bytes(model, opset, blocked))
    return path


def state_digest(model: nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers (names, dtypes, shapes, bytes).

    The same as hashing the weights file for models loaded from one, and it also works for
    models built in memory (tests, freshly trained), so it is what cache keys use.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


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
    name = f"{fields['model']}_x{fields['scale']}_{digest_of(fields)}.onnx"
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
