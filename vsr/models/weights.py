"""Weights files: safetensors only (never pickle), with the model's identity in the header."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import WeightsError
from ..files import atomic_write

# safetensors dtype names a weights file may use (converted to the model's dtype on load).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")


def save_weights(model: nn.Module, path: str | os.PathLike, extra: dict | None = None, half: bool = False) -> None:
    """Write ``model``'s parameters to a safetensors file, atomically.

    The header records the model name, scale and architecture config, so a file given with
    ``--weights`` can be checked against the requested model and scale.
    """
    from safetensors.torch import save

    path = Path(path)
    tensors = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": "vsr",
        "model": model.registry_name,
        "scale": str(model.scale),
        "config": json.dumps(model.config),
    }
    for key, value in (extra or {}).items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    with atomic_write(path) as temp:
        # Bytes written into vsr's own temporary file: safetensors' save_file makes its file 0600,
        # and a weights file must get the umask's permissions like any other output.
        temp.write_bytes(save(tensors, metadata=metadata))


def read_header(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...]]]]:
    """Metadata and ``{name: (dtype, shape)}`` of a safetensors file, without reading any tensor.

    safetensors checks that the header's offsets fit the file, so the shapes are those of tensors
    that are really there: comparing them with the model's costs nothing however large they claim
    to be.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            layout = {}
            for name in f.keys():
                view = f.get_slice(name)
                layout[name] = (view.get_dtype(), tuple(view.get_shape()))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a valid safetensors weights file ({exc})") from None
    return metadata, layout


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and header metadata of a safetensors file; :class:`WeightsError` if unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    metadata, _ = read_header(path)
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a valid safetensors weights file ({exc})") from None
    return tensors, metadata


def recorded_scale(path: str | os.PathLike, metadata: dict[str, str]) -> int | None:
    """The scale a header records (None when absent); :class:`WeightsError` if it is not a plain integer."""
    text = metadata.get("scale")
    if text is None or text == "":
        return None
    if re.fullmatch(r"[0-9]{1,3}", text.strip()) is None:
        raise WeightsError(f"{path}: the header's scale must be an integer such as \"2\", not {text!r}")
    return int(text)


def check_identity(path: str | os.PathLike, metadata: dict[str, str], model: str, scale: int) -> None:
    """Refuse a file whose header records another model or scale than the one asked for."""
    recorded_model = metadata.get("model")
    if recorded_model and recorded_model != model:
        raise WeightsError(f"{path}: weights are for model {recorded_model!r}, not {model!r}")
    recorded = recorded_scale(path, metadata)
    if recorded is not None and recorded != scale:
        raise WeightsError(f"{path}: weights are for scale x{recorded}, not x{scale}")


def parse_config(path: str | os.PathLike, metadata: dict[str, str]) -> dict:
    """The architecture config a header records ({} when absent): a JSON object of the model's own settings.

    The model name and scale have their own header fields; a config that repeats them is refused
    rather than guessed at.
    """
    text = metadata.get("config")
    if text is None:
        return {}
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise WeightsError(f"{path}: the header's config is not valid JSON") from None
    if not isinstance(config, dict):
        raise WeightsError(f"{path}: the header's config must be a JSON object of settings, not {type(config).__name__} {text[:60]}")
    for key in ("scale", "model", "name"):
        if key in config:
            raise WeightsError(f"{path}: the header's config must not contain {key!r} (it has its own header field)")
    return config


def check_layout(model: nn.Module, path: str | os.PathLike, layout: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """Refuse a file whose tensors are not exactly ``model``'s: names, shapes, floating dtypes.

    ``model`` may live on the ``meta`` device (shapes without memory), so a header that asks for
    a huge model is refused before anything is allocated. An integer dtype would be converted
    value by value (a float32 bias relabelled I32 becomes ~1e9), so only floating types pass.
    """
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    where = f"{model.registry_name} x{model.scale}"
    missing = sorted(set(expected) - set(layout))
    unexpected = sorted(set(layout) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else [])
        raise WeightsError(f"{path}: weights do not fit {where} ({'; '.join(parts)})")
    for name, (dtype, shape) in sorted(layout.items()):
        if shape != expected[name]:
            raise WeightsError(f"{path}: weights do not fit {where} ({name} is {list(shape)}, the model's is {list(expected[name])})")
        if dtype not in FLOAT_DTYPES:
            raise WeightsError(f"{path}: {name} is stored as {dtype}; weights must be floating point ({', '.join(FLOAT_DTYPES)})")


def load_weights_into(model: nn.Module, path: str | os.PathLike) -> dict[str, str]:
    """Load ``path`` into ``model`` after checking its recorded model name and scale, the tensors'
    names, shapes and dtypes (before reading them), and that every value is finite."""
    metadata, layout = read_header(path)
    check_identity(path, metadata, model.registry_name, model.scale)
    check_layout(model, path, layout)
    tensors, _ = read_weights(path)
    for name, tensor in sorted(tensors.items()):
        if not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{path}: {name} holds NaN or infinite values; the weights are damaged")
    reference = model.state_dict()
    tensors = {k: v.to(reference[k].dtype) for k, v in tensors.items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise WeightsError(f"{path}: weights do not fit {model.registry_name} x{model.scale} ({' '.join(first[:2])[:200]})") from None
    return metadata


def recorded_config(path: str | os.PathLike) -> dict:
    """Architecture config recorded in a weights file's header ({} when absent)."""
    metadata, _ = read_header(path)
    return parse_config(path, metadata)
