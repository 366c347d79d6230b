"""The quick start: a CPU runtime on a graph an earlier run left, without importing torch.

On a CPU-only machine the automatic choice is OpenVINO in bf16 (a CPU where bf16 pays,
8-bit pictures) or ONNX Runtime in fp32, and after the first run with a weights file its graph
sits in the cache with a card beside it (:mod:`.graph_card`). Loading torch only to find that
graph again costs most of a second on every run, a tenth of a typical job; this module finds it
from the weights file's hash instead and builds the same runner the ordinary path would
(side-by-side sessions, the bf16 guard, tiling, the first-output check), so the output is the same
to the bit.

It chooses as the ordinary path does, by asking the same owners: the backends' ``auto_candidate``
and ``for_request`` and the precision rules of ``base.py``. Anything it cannot decide without torch
sends the run down the ordinary path (None is returned): a backend other than the graph runtimes,
a precision the one named refuses, a device other than the CPU or a GPU that torch might use; no
card, a bad one, or a runtime that fails to start. Under ``auto``, the rest of
:class:`.selection.AutoBackend`'s order on a CPU stays the fallback when the graph fails its first
frames, each built only then (ONNX Runtime from its own card when it has one, torch imported only
where needed); tests keep the two paths' choices in step.
"""
from __future__ import annotations

from pathlib import Path

from ..files import sha256_file
from ..shipped import find_shipped, shipped_path
from ..sysinfo import may_have_gpu
from ..errors import ConfigError
from .base import auto_cpu_precision, bf16_keeps, describe, for_input_depth
from .fallback import Candidate, FallbackRunner
from .graph_card import card_key, read_card
from .guard import NonFiniteGuard
from .onnxruntime import OnnxRuntimeBackend
from .openvino import OpenVinoBackend
from .output_check import FirstOutputCheck
from .tiling import TiledRunner, cpu_tile_limit


def cached_cpu_runner(spec, warn=None):
    """The runner ``spec`` (a :class:`vsr.runner_spec.RunnerSpec`) asks for, built from a cached
    graph without torch, or None when the ordinary path must build it."""
    if spec.device not in (None, "cpu") or (spec.device is None and may_have_gpu()):
        return None
    backends = _cpu_backends(spec)
    if not backends:
        return None
    weights = _weights_path(spec)
    if weights is None:
        return None
    try:
        digest = sha256_file(weights)
    except OSError:
        return None  # the ordinary path says what is wrong with the file
    runner = _from_card(backends[0], spec, digest)
    if runner is None:
        return None
    if spec.backend == "auto":
        candidates = [Candidate(describe(backends[0]), lambda: runner)]
        for later in backends[1:]:
            candidates.append(Candidate(describe(later), lambda later=later: _from_card(later, spec, digest) or _ordinary(later, spec)))
        last = "bf16" if spec.precision == "bf16" else "fp32"  # auto's torch keeps an asked-for bf16
        candidates.append(Candidate(f"torch on cpu ({last})", lambda: _torch_on_cpu(spec, last)))
        runner = FallbackRunner(candidates, spec.scale, warn)
    return FirstOutputCheck(runner)


# The graph runtimes the quick start can serve, in ``auto``'s (registry) order; a test keeps it so.
GRAPH_RUNTIMES = (OpenVinoBackend, OnnxRuntimeBackend)


def _cpu_backends(spec) -> list:
    """The graph runtimes ``spec`` may run on this CPU, as the ordinary path would choose them:
    ``auto``'s candidates in its order (torch, the last resort, not included), or the one backend
    named; empty when the quick start cannot serve it (the ordinary path then decides, or says why)."""
    if spec.backend == "auto":
        precision = auto_cpu_precision(spec.precision, bf16_keeps(spec.input_bits))
        found = (cls.auto_candidate("cpu", precision, spec.threads) for cls in GRAPH_RUNTIMES)
        return [backend for backend in found if backend is not None]
    named = {cls.name: cls for cls in GRAPH_RUNTIMES}.get(spec.backend)
    if named is None:
        return []
    backend = for_input_depth(named.for_request("cpu", spec.precision, spec.threads), spec.precision, spec.input_bits)
    try:
        backend.check()
    except ConfigError:
        return []
    return [backend]


def _from_card(backend, spec, digest: str):
    """``backend``'s runner on the graph its card names, wrapped as the ordinary path wraps it, or None."""
    name = card_key(digest, spec.model, spec.scale, backend.opset, backend.runtime_tag(), backend.block_subpixel)
    found = read_card(backend.cache_dir, name)
    if found is None:
        return None
    card, graph = found
    if card.model != spec.model or card.scale != spec.scale:
        return None
    try:
        raw = backend.runner_for_graph(card.scale, graph, True, card.receptive_radius)
    except Exception:
        return None  # a damaged graph: the ordinary path meets it too, and falls back or says why
    runner = raw
    itemsize = 4
    if raw.precision != "fp32":
        itemsize = 2
        runner = NonFiniteGuard(raw, lambda: _torch_on_cpu(spec))
    per_pixel = card.activation_bytes_per_pixel * itemsize // 4  # the card holds fp32's
    return TiledRunner(runner, card.receptive_radius, cpu_tile_limit(per_pixel))


def _ordinary(backend, spec):
    """``backend`` built the ordinary way (torch imported, graph exported), for a fallback."""
    from ..models import load_model
    from .selection import wrapped_runner

    return wrapped_runner(load_model(spec.model, spec.scale, spec.weights), backend)


def _weights_path(spec) -> Path | None:
    if spec.weights is not None:
        return Path(spec.weights)
    entry = find_shipped(spec.model, spec.scale)
    return None if entry is None else shipped_path(entry)


def _torch_on_cpu(spec, precision: str = "fp32"):
    """``auto``'s last resort on a CPU, as the ordinary path builds it (torch imported here); in
    fp32 also what redoes a bf16 frame that came out non-finite."""
    from ..models import load_model
    from .selection import wrapped_runner
    from .torch_backend import TorchBackend

    model = load_model(spec.model, spec.scale, spec.weights)
    return wrapped_runner(model, TorchBackend(device="cpu", precision=precision, threads=spec.threads))
