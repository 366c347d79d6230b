"""The weights that ship in ``vsr/weights/``, as its ``manifest.json`` lists them.

Read without torch, so that ``--help`` can say which models have weights at which scales without
loading it. Loading the weights themselves is :mod:`vsr.models.pretrained`'s job.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MANIFEST_PATH = WEIGHTS_DIR / "manifest.json"


@lru_cache(maxsize=1)
def manifest() -> list[dict]:
    """All manifest entries (empty when the manifest is missing)."""
    if not MANIFEST_PATH.is_file():
        return []
    with open(MANIFEST_PATH) as f:
        return json.load(f)["weights"]


def find_shipped(model: str, scale: int) -> dict | None:
    """The manifest entry for ``model`` at ``scale``, or None."""
    for entry in manifest():
        if entry["model"] == model and int(entry["scale"]) == scale:
            return entry
    return None


def shipped_scales(model: str) -> list[int]:
    """The scales ``model`` has shipped weights for, smallest first."""
    return sorted(int(e["scale"]) for e in manifest() if e["model"] == model)


def shipped_path(entry: dict) -> Path:
    return WEIGHTS_DIR / entry["file"]


def shipped_summary(model: str) -> str:
    """``shipped weights for x2, x3, x4`` or how to get some: for help texts."""
    scales = shipped_scales(model)
    if scales:
        return "shipped weights for " + ", ".join(f"x{s}" for s in scales)
    return f"no weights ship yet: train them with `vsr train --model {model}` and pass --weights"
