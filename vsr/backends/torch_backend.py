"""PyTorch backend: eager inference on CPU (or on CUDA, where present)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from .base import check_batch

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class TorchBackend:
    """Knobs: ``device`` ("cpu", "cuda", "cuda:1"), ``precision`` (fp32, fp16, bf16), ``threads``
    (CPU intra-op threads; None keeps torch's default), ``channels_last`` (often faster on CPU)."""

    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    channels_last: bool = False

    name = "torch"

    def build(self, model: nn.Module) -> "TorchRunner":
        if self.precision not in _DTYPES:
            raise ConfigError(f"precision must be one of {', '.join(_DTYPES)}, not {self.precision!r}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError("--device cuda asked for, but this torch build sees no CUDA GPU")
        if self.device == "cpu" and self.precision == "fp16":
            raise ConfigError("fp16 on CPU is not supported by the torch backend; use fp32 or bf16")
        if self.threads:
            torch.set_num_threads(self.threads)
        return TorchRunner(model, self)


class TorchRunner:
    def __init__(self, model: nn.Module, backend: TorchBackend):
        self.backend = backend
        self.name = backend.name
        self.device = backend.device
        self.precision = backend.precision
        self.scale = model.scale
        self._dtype = _DTYPES[backend.precision]
        memory_format = torch.channels_last if backend.channels_last else torch.contiguous_format
        self._memory_format = memory_format
        self.model = model.eval().to(device=backend.device, dtype=self._dtype, memory_format=memory_format)

    @torch.inference_mode()
    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch)
        x = torch.from_numpy(batch)[:, None].to(self.device, self._dtype)
        x = x.contiguous(memory_format=self._memory_format)
        y = self.model(x)
        return y[:, 0].float().cpu().numpy()
