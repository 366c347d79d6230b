"""Backends that run a model: one interface (:class:`Runner`), chosen by name."""
from __future__ import annotations

import torch.nn as nn

from ..errors import ConfigError
from .base import Runner
from .torch_backend import TorchBackend

BACKEND_NAMES = ("auto", "torch")


def make_backend(name: str = "auto", device: str | None = None, precision: str = "fp32", threads: int | None = None):
    """The backend value for a name; ``auto`` picks the fastest one this machine has."""
    if name not in BACKEND_NAMES:
        raise ConfigError(f"unknown backend {name!r}; known: {', '.join(BACKEND_NAMES)}")
    if device is None:
        device = "cuda" if torch_cuda_available() else "cpu"
    return TorchBackend(device=device, precision=precision, threads=threads)


def torch_cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def build_runner(model: nn.Module, backend=None) -> Runner:
    """A runner for ``model`` on ``backend`` (default: automatic choice)."""
    return (backend or make_backend()).build(model)


__all__ = ["Runner", "TorchBackend", "make_backend", "build_runner", "BACKEND_NAMES"]
