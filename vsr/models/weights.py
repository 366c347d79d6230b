"""Weights files: safetensors only (never pickle), with the model's identity in the header."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import WeightsError


def save_weights(model: nn.Module, path: str | os.PathLike, extra: dict | None = None, half: bool = False) -> None:
    """Write ``model``'s parameters to a safetensors file, atomically.

    The header records the model name, scale and architecture config, so a file given with
    ``--weights`` can be checked against the requested model and scale.
    """
    from safetensors.torch import save_file

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
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and header metadata of a safetensors file; :class:`WeightsError` if unreadable."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a valid safetensors weights file ({exc})") from None
    return tensors, metadata


def load_weights_into(model: nn.Module, path: str | os.PathLike) -> dict[str, str]:
    """Load ``path`` into ``model`` after checking its recorded model name and scale."""
    tensors, metadata = read_weights(path)
    recorded_model = metadata.get("model")
    if recorded_model and recorded_model != model.registry_name:
        raise WeightsError(f"{path}: weights are for model {recorded_model!r}, not {model.registry_name!r}")
    recorded_scale = metadata.get("scale")
    if recorded_scale and int(recorded_scale) != model.scale:
        raise WeightsError(f"{path}: weights are for scale x{recorded_scale}, not x{model.scale}")
    reference = model.state_dict()
    tensors = {k: v.to(reference[k].dtype) if k in reference else v for k, v in tensors.items()}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise WeightsError(f"{path}: weights do not fit {model.registry_name} x{model.scale} ({' '.join(first[:2])[:200]})") from None
    return metadata


def recorded_config(path: str | os.PathLike) -> dict:
    """Architecture config recorded in a weights file's header ({} when absent)."""
    _, metadata = read_weights(path)
    try:
        return json.loads(metadata.get("config", "{}"))
    except json.JSONDecodeError:
        return {}


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
