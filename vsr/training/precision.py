"""Mixed precision for training: which dtype the convolutions run in, and the grad scaler fp16 needs.

Master weights, the optimiser and the loss stay fp32; autocast runs the convolutions in bf16 or
fp16. Models keep their own output layer in fp32 (MSRN's reconstruction conv and mean add): bf16
carries 8 significant bits, about one 8-bit grey level, so a bf16 output would cap PSNR near 40 dB
and add its rounding noise to every gradient. Validation always runs in fp32.
"""
from __future__ import annotations

import contextlib

import torch

from ..errors import ConfigError
from ..backends import bf16_speed

PRECISIONS = ("fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def default_precision(device: str) -> str:
    """bf16 where the hardware runs it faster than fp32 (CUDA with bf16, CPUs where bf16 pays:
    ``bf16_speed``), else fp32. An MSRN x2 step: 2.1x faster in bf16 on a 2-core AMD EPYC with
    AVX512-BF16, but 1.3x slower on an Intel Xeon with AVX512-BF16 and no AMX."""
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if bf16_speed.bf16_pays() else "fp32"


class Precision:
    """The autocast context and loss scaling for one training run's precision on one device."""

    def __init__(self, precision: str, device: str):
        if precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.device_type = torch.device(device).type
        if precision == "fp16" and self.device_type != "cuda":
            raise ConfigError("--precision fp16 trains on CUDA only (it needs a grad scaler and tensor cores); use bf16 or fp32 on the CPU")
        self.name = precision
        # fp16's 5-bit exponent underflows small gradients; bf16 has fp32's range and needs no scaling.
        self.scaler = torch.amp.GradScaler(self.device_type) if precision == "fp16" else None

    def autocast(self):
        if self.name == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=_DTYPES[self.name])

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward and optimiser step, with the loss scaled where fp16 needs it."""
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
