"""A card beside a cached ONNX graph: which weights file it was made from, and what running it needs.

Building an ONNX Runtime runner the ordinary way loads the model into torch (to export the graph,
or to hash its tensors for the cache key) and reads its receptive radius and memory needs off
its layers; importing torch alone is most of a second, a tenth of a typical CPU job. Once that
has been done for a weights *file*, the card records it: keyed by the file's SHA-256 (and the
model, scale, opset, runtime and graph form), it names the graph and holds the two numbers the
runner needs. The next run with the same file hashes it (milliseconds), finds the card and
starts ONNX Runtime on the graph without torch (:mod:`.cached_start`).

A card is read as untrusted input: bounded in size before it is read, every field type- and
range-checked, the graph name a plain file name in the card's own folder. Anything wrong and the
card is ignored (the ordinary path runs and writes a good one).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..files import digest_of, write_json_atomically
from .cache import cache_dir

CARD_FORMAT = 1
MAX_CARD_BYTES = 16 << 10
_GRAPH_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,200}\.onnx$")


@dataclass(frozen=True)
class GraphCard:
    """What a run of the graph ``graph`` (a file name in the card's folder) needs to know."""

    graph: str
    model: str
    scale: int
    receptive_radius: int
    activation_bytes_per_pixel: int  # fp32, as tiling plans with it
    blocked: bool


def card_key(weights_sha256: str, model: str, scale: int, opset: int, runtime: str, block_subpixel: bool) -> str:
    """The card's name: everything a run knows before loading anything that picks the graph.

    torch's version is not part of it: the card is written only after the graph it names was
    found or exported for exactly these weights, and the graph computes the same whichever
    exporter wrote it.
    """
    fields = {
        "card": CARD_FORMAT,
        "weights": weights_sha256,
        "model": model,
        "scale": scale,
        "opset": opset,
        "runtime": runtime,
        "block_subpixel": block_subpixel,
    }
    return f"{model}_x{scale}_{digest_of(fields)}.card.json"


def write_card(folder: str | os.PathLike | None, name: str, card: GraphCard) -> None:
    """Write ``card`` under ``name`` in the ONNX cache folder (atomically); a cache that cannot be
    written only costs the next run its quick start."""
    try:
        write_json_atomically(cache_dir(folder, "onnx") / name, asdict(card), indent=1)
    except OSError:
        pass


def read_card(folder: str | os.PathLike | None, name: str) -> tuple[GraphCard, Path] | None:
    """The card called ``name`` and its graph's path, or None when there is no usable card."""
    try:
        path = cache_dir(folder, "onnx") / name
        if not path.is_file() or path.stat().st_size > MAX_CARD_BYTES:
            return None
        fields = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    card = _valid_card(fields)
    if card is None:
        return None
    graph = path.parent / card.graph
    return (card, graph) if graph.is_file() else None


def _valid_card(fields) -> GraphCard | None:
    if not isinstance(fields, dict) or set(fields) != set(GraphCard.__dataclass_fields__):
        return None
    ints = ("scale", "receptive_radius", "activation_bytes_per_pixel")
    if not all(type(fields[k]) is int for k in ints) or type(fields["blocked"]) is not bool:
        return None
    if not (isinstance(fields["graph"], str) and _GRAPH_NAME.match(fields["graph"]) and isinstance(fields["model"], str)):
        return None
    if not (1 <= fields["scale"] <= 16 and 0 <= fields["receptive_radius"] <= 4096 and 1 <= fields["activation_bytes_per_pixel"] <= 1 << 20):
        return None
    return GraphCard(**fields)


def runner_on_cached_graph(backend, model, blocked: bool, leave_card: bool):
    """``backend.runner_for_graph`` on ``model``'s cached graph (exported on a miss), leaving a card
    for the next run's quick start when ``leave_card`` and the model came from a weights file.
    What the graph runtimes' ``build`` share; torch is imported here (the export needs it)."""
    from .footprint import activation_bytes_per_pixel, receptive_radius
    from .onnx_export import cached_onnx

    runtime = backend.runtime_tag()
    path, hit = cached_onnx(model, backend.opset, runtime, backend.cache_dir, blocked)
    radius = receptive_radius(model)
    runner = backend.runner_for_graph(model.scale, path, hit, radius)
    weights_sha256 = getattr(model, "weights_sha256", None)
    if leave_card and weights_sha256:
        name = getattr(model, "registry_name", type(model).__name__)
        card = GraphCard(path.name, name, model.scale, radius, activation_bytes_per_pixel(model, 4), blocked)
        write_card(backend.cache_dir, card_key(weights_sha256, name, model.scale, backend.opset, runtime, backend.block_subpixel), card)
    return runner
