"""Choosing a backend, falling back when one fails to build, and wrapping the result.

:data:`BACKENDS` is the one registry of backend classes, fastest first. ``auto`` asks each, on a
CUDA GPU and then on the CPU, whether it applies there (``auto_candidate``): today TensorRT on
CUDA (if ``tensorrt`` is installed), torch on CUDA, OpenVINO in bf16 on a CPU with bf16
instructions (if installed), ONNX Runtime in fp32 on the CPU (if installed), torch on the CPU. On
the CPU, a precision not asked for is each candidate's own default (OpenVINO: bf16; the others:
fp32), so a bf16-capable CPU runs bf16 first and fp32 after it, as a GPU runs fp16. A named
backend's defaults are its class's (``for_request``). Backends that cannot apply (no GPU, package missing,
precision unsupported) are skipped silently; one that applies but fails to build, or fails its
first batch, is reported in a single warning line on stderr, naming what was used instead. A backend named explicitly is never
replaced: if it cannot run, :class:`~vsr.errors.ConfigError` says why.

Every runner handed out is wrapped the same way (``wrapped_runner``): the fp16/bf16 guard
(``guard.py``), then tiling (``tiling.py``); the fallback itself is ``fallback.py``. The one other
builder, ``cached_start.py`` (OpenVINO or ONNX Runtime on the CPU from a cached graph, no torch),
asks the same classmethods and precision rules (``base.py``) and builds the same stack from the
graph's card: the guard, tiling, and under ``auto`` the same fallback order.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..errors import ConfigError, VsrError
from .base import PRECISIONS, auto_cpu_precision, default_precision, describe, device_uses_gpu, first_line, for_input_depth
from .fallback import Candidate, FallbackRunner
from .guard import NonFiniteGuard
from .output_check import FirstOutputCheck
from .onnxruntime import OnnxRuntimeBackend
from .openvino import OpenVinoBackend
from .tensorrt import TensorRTBackend
from .footprint import activation_bytes_per_pixel, receptive_radius
from .tiling import TiledRunner, cpu_tile_limit
from .torch_backend import TorchBackend

# The backend classes by name, fastest first: the order in which ``auto`` tries them on a device.
BACKENDS = {"tensorrt": TensorRTBackend, "openvino": OpenVinoBackend, "onnxruntime": OnnxRuntimeBackend, "torch": TorchBackend}
BACKEND_NAMES = ("auto", *BACKENDS)

# Share of the GPU's free memory (at build time) a CUDA runner may plan for.
GPU_MEMORY_SHARE = 0.5


@dataclass(frozen=True)
class AutoBackend:
    """The fastest backend this machine has for ``device``/``precision`` (None: choose)."""

    device: str | None = None
    precision: str | None = None
    threads: int | None = None
    cache_dir: str | None = None
    bf16_default: bool = True  # may a CPU run bf16 when no precision is asked (8-bit input)?

    name = "auto"

    @classmethod
    def for_request(cls, device=None, precision=None, threads=None, cache_dir=None) -> "AutoBackend":
        """None stays None: each candidate fills in its own default."""
        return cls(device=device, precision=precision, threads=threads, cache_dir=cache_dir)

    @staticmethod
    def uses_gpu(device: str | None) -> bool | None:
        """The device says; None: a GPU where there is one."""
        return device_uses_gpu(device)

    def check(self) -> None:
        """Impossible device/precision combinations fail here, early."""
        self.candidates()

    def candidates(self) -> list:
        """The backends to try, best first, skipping those that cannot apply here."""
        cuda = torch.cuda.is_available()
        device = self.device
        if device is not None and device != "cpu" and not device.startswith("cuda"):
            raise ConfigError(f"device must be cpu, cuda or cuda:N, not {device!r}")
        if device is not None and device.startswith("cuda") and not cuda:
            raise ConfigError(f"--device {device} asked for, but this torch build sees no CUDA GPU")
        found = []
        if cuda and device != "cpu":
            gpu = device or "cuda"
            found += self._candidates_on(gpu, self.precision or default_precision(gpu))
        if self.precision == "fp16" and not found:
            raise ConfigError("fp16 needs a CUDA GPU; on the CPU use fp32 or bf16")
        if device is None or device == "cpu":
            found += self._candidates_on("cpu", auto_cpu_precision(self.precision, self.bf16_default))
        return found

    def _candidates_on(self, device: str, precision: str | None) -> list:
        """The registered backends that apply on ``device`` in ``precision``, in registry order."""
        found = (cls.auto_candidate(device, precision, self.threads, self.cache_dir) for cls in BACKENDS.values())
        return [backend for backend in found if backend is not None]


def backend_class(name: str):
    """The class of the backend called ``name`` (``auto`` included); :class:`ConfigError` if none."""
    if name == AutoBackend.name:
        return AutoBackend
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; known: {', '.join(BACKEND_NAMES)}")
    return BACKENDS[name]


def make_backend(
    name: str = "auto",
    device: str | None = None,
    precision: str | None = None,
    threads: int | None = None,
    cache_dir: str | None = None,
    input_bits: int | None = 8,
):
    """The backend value for a name; ``auto`` picks the fastest one this machine has.

    ``device``, ``precision`` None take the backend class's defaults (its ``for_request``; for torch,
    a CUDA GPU when there is one, fp16 there and fp32 on the CPU; on a CPU where bf16 pays,
    bf16). ``input_bits`` are the bits per sample of the pictures it will run on (None: unknown):
    deeper than bf16 keeps, and no precision asked, it defaults to fp32 instead. Raises
    :class:`ConfigError` for a combination that cannot run here.
    """
    cls = backend_class(name)
    if precision is not None and precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    backend = for_input_depth(cls.for_request(device, precision, threads, cache_dir), precision, input_bits)
    backend.check()
    return backend


def wrapped_runner(model: nn.Module, backend, max_tile_pixels: int | None = None):
    """``backend.build(model)`` with the fp16 guard and tiling around it."""
    raw = backend.build(model)
    runner = raw
    if backend.precision != "fp32":
        # Redo a non-finite frame with torch in fp32 on the same device: always there, quick to build.
        runner = NonFiniteGuard(raw, lambda: TorchBackend(device=backend.device, precision="fp32").build(model))
    limit = max_tile_pixels or tile_limit_pixels(model, raw)
    return TiledRunner(runner, receptive_radius(model), limit)


def tile_limit_pixels(model: nn.Module, runner) -> int:
    """LR pixels per call that fit the device's memory, by :func:`activation_bytes_per_pixel`."""
    itemsize = 2 if runner.precision in ("fp16", "bf16") else 4
    per_pixel = activation_bytes_per_pixel(model, itemsize)
    if runner.device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(runner.device))
        return max(1, int(free * GPU_MEMORY_SHARE) // per_pixel)
    return cpu_tile_limit(per_pixel)


def build_runner(model: nn.Module, backend=None, max_tile_pixels: int | None = None, warn=None):
    """A runner for ``model`` on ``backend`` (default: automatic choice), ready for any frame size.

    Frames (and batches) larger than ``max_tile_pixels`` LR pixels per call (default: what the
    device's memory allows) are tiled; reduced-precision output is guarded against NaN/Inf; the
    first output with contrast is checked to be a picture (``output_check.py``). A
    backend named explicitly is used or refused (:class:`ConfigError`), never replaced; ``warn``
    receives the line saying the automatic choice fell back (default: printed to stderr).
    """
    backend = backend or make_backend()
    if isinstance(backend, AutoBackend):
        candidates = [Candidate(describe(c), functools.partial(wrapped_runner, model, c, max_tile_pixels)) for c in backend.candidates()]
        return FirstOutputCheck(FallbackRunner(candidates, model.scale, warn))
    try:
        return FirstOutputCheck(wrapped_runner(model, backend, max_tile_pixels))
    except VsrError:
        raise
    except Exception as exc:
        raise ConfigError(f"the {backend.name} backend could not start on {backend.device}: {first_line(exc)}") from None
