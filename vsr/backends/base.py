"""The interface every backend implements.

A *backend* is a small frozen dataclass of the knobs that matter (device, precision, threads); its
``build(model)`` returns a *runner* that turns a batch of luma planes into upscaled planes. Each
backend class also owns its rules as classmethods, which selection and cluster scheduling ask
instead of repeating them: ``for_request`` (its defaults), ``auto_candidate`` (whether and how
``auto`` may try it on a device) and ``uses_gpu`` (what a task running it needs). Callers
(image, video, eval, bench) only ever see runners, and get them from
:func:`vsr.backends.build_runner`, which adds tiling and the fp16 guard around the backend's own
runner (see ``tiling.py`` and ``guard.py``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Protocol

import numpy as np

PRECISIONS = ("fp32", "fp16", "bf16")


class Runner(Protocol):
    """A model made ready on one device.

    ``run`` takes (N, H, W) float32 luma in [0, 1] (8- or 10-bit code values already divided by
    their maximum) and returns (N, s*H, s*W) float32, not clipped. When ``out`` is given (a
    C-contiguous float32 array of that shape) the result is written into it and ``out`` is
    returned: a caller that recycles its output arrays saves the cost of touching fresh memory on
    every frame (large, on virtual machines).
    """

    name: str
    device: str
    precision: str
    scale: int

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray: ...

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        """Whether one call may take a batch of this (N, H, W) shape (else the caller tiles)."""
        ...

    def stats(self) -> dict:
        """Counters a user may want reported (fp32 recomputes, tiled frames, out-of-memory retries)."""
        ...


class OutOfMemory(RuntimeError):
    """A device ran out of memory for this batch; the tiler retries it in smaller tiles."""


def check_batch(batch: np.ndarray) -> np.ndarray:
    """Validate and normalise a batch to contiguous float32 (N, H, W)."""
    if batch.ndim == 2:
        batch = batch[None]
    if batch.ndim != 3:
        raise ValueError(f"a batch of luma planes is (N, H, W); got shape {batch.shape}")
    return np.ascontiguousarray(batch, dtype=np.float32)


def output_for(batch: np.ndarray, scale: int, out: np.ndarray | None) -> np.ndarray:
    """``out`` checked against ``batch`` (or a new array): where a runner writes its result."""
    n, h, w = batch.shape
    shape = (n, scale * h, scale * w)
    if out is None:
        return np.empty(shape, np.float32)
    if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be C-contiguous float32 {shape}; got {out.dtype} {out.shape}")
    return out


# bf16 carries 8 significant bits: enough for 8-bit pictures, not for deeper ones.
BF16_SIGNIFICANT_BITS = 8


def bf16_keeps(input_bits: int | None) -> bool:
    """Whether bf16 keeps every significant bit of pictures with ``input_bits`` bits per sample
    (None: unknown, so no)."""
    return input_bits is not None and input_bits <= BF16_SIGNIFICANT_BITS


def auto_cpu_precision(asked: str | None, bf16_default: bool) -> str | None:
    """The precision ``auto`` asks its CPU candidates for. Falling back from a GPU in fp16 means
    fp32 on the CPU; an asked-for bf16 stays bf16; none asked: None, each candidate's own CPU
    default (OpenVINO bf16, the others fp32), or fp32 where bf16 is not wanted (``bf16_default``
    False: pictures deeper than bf16 keeps)."""
    if asked is None:
        return None if bf16_default else "fp32"
    return "bf16" if asked == "bf16" else "fp32"


def for_input_depth(backend, asked: str | None, input_bits: int | None):
    """``backend`` as made for a request of precision ``asked``, with its bf16 default taken back
    where nobody asked for a precision and the pictures are deeper than bf16 keeps (``auto``: no
    bf16 on the CPU; a named backend: fp32). An asked-for precision always stands."""
    if asked is not None or bf16_keeps(input_bits):
        return backend
    if getattr(backend, "bf16_default", False):
        return replace(backend, bf16_default=False)
    if backend.precision == "bf16":
        return replace(backend, precision="fp32")
    return backend


def default_precision(device: str) -> str:
    """fp16 on a CUDA GPU (about twice fp32 on tensor cores), fp32 on the CPU: the default of the
    backends that run on both."""
    return "fp16" if device.startswith("cuda") else "fp32"


def device_uses_gpu(device: str | None) -> bool | None:
    """True for a CUDA device, False for the CPU, None when not given (the backend chooses)."""
    if device is not None and device.startswith("cuda"):
        return True
    if device == "cpu":
        return False
    return None


def describe(backend) -> str:
    """A backend as the fallback warning names it: ``openvino on cpu (bf16)``."""
    return f"{backend.name} on {backend.device} ({backend.precision})"


def first_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line, for warnings and error messages."""
    text = str(exc).strip().splitlines()
    text = text[0] if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
