"""The quick start: ONNX Runtime on the CPU from a graph an earlier run left, without importing torch.

On a CPU-only machine the automatic choice is ONNX Runtime in fp32, and after the first run with
a weights file its graph sits in the cache with a card beside it (:mod:`.graph_card`). Loading
torch only to find that graph again costs most of a second on every run, a tenth of a typical
job; this module finds it from the weights file's hash instead and builds the same runner the
ordinary path would (side-by-side sessions, tiling, the first-output check), so the output is the
same to the bit.

Anything it cannot decide without torch sends the run down the ordinary path (None is returned):
another backend, device or precision asked for; a GPU that torch might use; no card, a bad one,
or sessions that fail to start. Under ``auto``, torch on the CPU stays the fallback when the graph
fails its first frames, built (and torch imported) only then: the same order as
:class:`.selection.AutoBackend` on a CPU, which a test keeps in step.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from ..files import sha256_file
from ..shipped import find_shipped, shipped_path
from ..sysinfo import may_have_gpu
from .fallback import Candidate, FallbackRunner
from .graph_card import card_key, read_card
from .onnxruntime import OnnxRuntimeBackend
from .output_check import FirstOutputCheck
from .tiling import TiledRunner, cpu_tile_limit


def cached_cpu_runner(spec, warn=None):
    """The runner ``spec`` (a :class:`vsr.runner_spec.RunnerSpec`) asks for, built from a cached
    graph without torch, or None when the ordinary path must build it."""
    if spec.backend not in ("auto", OnnxRuntimeBackend.name) or spec.precision not in (None, "fp32"):
        return None
    if spec.device not in (None, "cpu") or (spec.device is None and may_have_gpu()):
        return None
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    weights = _weights_path(spec)
    if weights is None:
        return None
    try:
        digest = sha256_file(weights)
    except OSError:
        return None  # the ordinary path says what is wrong with the file
    backend = OnnxRuntimeBackend(device="cpu", threads=spec.threads)
    name = card_key(digest, spec.model, spec.scale, backend.opset, backend.runtime_tag(), backend.block_subpixel)
    found = read_card(backend.cache_dir, name)
    if found is None:
        return None
    card, graph = found
    if card.model != spec.model or card.scale != spec.scale:
        return None
    try:
        sessions = backend.runner_for_graph(card.scale, graph, True, card.receptive_radius)
    except Exception:
        return None  # a damaged graph: the ordinary path meets it too, and falls back or says why
    runner = TiledRunner(sessions, card.receptive_radius, cpu_tile_limit(card.activation_bytes_per_pixel))
    if spec.backend == "auto":
        ready = Candidate(f"{backend.name} on cpu (fp32)", lambda: runner)
        runner = FallbackRunner([ready, Candidate("torch on cpu (fp32)", lambda: _torch_on_cpu(spec))], card.scale, warn)
    return FirstOutputCheck(runner)


def _weights_path(spec) -> Path | None:
    if spec.weights is not None:
        return Path(spec.weights)
    entry = find_shipped(spec.model, spec.scale)
    return None if entry is None else shipped_path(entry)


def _torch_on_cpu(spec):
    """``auto``'s last resort on a CPU, as the ordinary path builds it (torch imported here)."""
    from ..models import load_model
    from .selection import wrapped_runner
    from .torch_backend import TorchBackend

    model = load_model(spec.model, spec.scale, spec.weights)
    return wrapped_runner(model, TorchBackend(device="cpu", precision="fp32", threads=spec.threads))
