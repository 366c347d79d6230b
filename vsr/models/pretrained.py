"""The weights that ship with vsr, found through ``vsr/weights/manifest.json``.

Each manifest entry records how the file was made (the exact ``vsr train`` command, data,
epochs, time) and what it measured, so anyone can reproduce or check it with ``vsr eval``.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch.nn as nn

from ..errors import ConfigError, WeightsError
from ..files import sha256_file
from ..shipped import find_shipped, shipped_path, shipped_scales
from .registry import create_meta_model, create_model
from .weights import check_identity, check_layout, load_weights_into, parse_config, read_header

def _no_weights_message(model: str, scale: int) -> str:
    scales = shipped_scales(model)
    if scales:
        # Another scale's file shares the body: training this scale from it is the quick way.
        start = shipped_path(find_shipped(model, scales[0]))
        return (
            f"no shipped {model} weights for x{scale} (shipped: {', '.join(f'x{s}' for s in scales)}); pass --weights PATH, "
            f"or train them from the x{scales[0]} weights: `vsr train --model {model} --scale {scale} --init-weights {start} "
            f"--train-dir DIR --val-dir DIR --out runs/{model}_x{scale}`"
        )
    return (
        f"no {model} weights ship with vsr; train them with "
        f"`vsr train --model {model} --scale {scale} --train-dir DIR --val-dir DIR --out runs/{model}_x{scale}` "
        f"and pass --weights runs/{model}_x{scale}/best.safetensors"
    )


def load_model(name: str, scale: int, weights: str | os.PathLike | None = None) -> nn.Module:
    """A model ready for inference (eval mode, fp32, CPU): shipped weights, or ``weights`` if given."""
    if weights is None:
        entry = find_shipped(name, scale)
        if entry is None:
            raise WeightsError(_no_weights_message(name, scale))
        path = shipped_path(entry)
    else:
        path = Path(weights)
    metadata, layout = read_header(path)
    check_identity(path, metadata, name, scale)
    try:
        config = parse_config(path, metadata)
        # Shapes first, on the meta device: a header whose config disagrees with its tensors (or
        # asks for a huge model) is refused before a byte of the model is allocated.
        check_layout(create_meta_model(name, scale, config), path, layout)
        model = create_model(name, scale, **config)
    except ConfigError as exc:
        raise WeightsError(f"{path}: the header's config does not describe a usable {name} ({exc})") from None
    load_weights_into(model, path)
    # Which file the tensors came from: what lets a cached graph be found again without torch
    # (vsr.backends.graph_card).
    model.weights_sha256 = sha256_file(path)
    return model.eval().float()
