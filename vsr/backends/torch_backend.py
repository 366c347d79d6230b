"""PyTorch backend: eager inference on CPU, or on CUDA with overlapped copies (``torch_cuda.py``)."""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from .base import check_batch, default_precision, device_uses_gpu, output_for
from .torch_precision import DTYPES


@dataclass(frozen=True)
class TorchBackend:
    """PyTorch, on CPU or one CUDA GPU.

    Knobs that matter:
      - ``device``: "cpu", "cuda" or "cuda:N".
      - ``precision``: fp32; fp16 or bf16 on CUDA (tensor cores; about twice fp32); bf16 on CPU
        only where the CPU has bf16 instructions (Zen 3 has not: it is slower there).
      - ``threads``: CPU intra-op threads for this runner's forward calls (None keeps torch's
        choice, one per core); set around each call, never left set for the process.
      - ``channels_last``: NHWC activations. None chooses: on (CUDA, where the tensor-core
        kernels are NHWC; and CPU, where oneDNN's direct convolutions are faster in it).
      - ``cuda_graph``: replay the whole network as one CUDA graph per input shape (saves
        kernel-launch time on small frames; costs memory per shape).
      - ``compile``: ``torch.compile`` the model (slow first call per shape; CUDA only here).
    """

    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    channels_last: bool | None = None
    cuda_graph: bool = False
    compile: bool = False

    name = "torch"

    @classmethod
    def for_request(cls, device=None, precision=None, threads=None, cache_dir=None) -> "TorchBackend":
        """This backend for what a user asked; None takes its default: a CUDA GPU when torch sees
        one, else the CPU; fp16 on the GPU, fp32 on the CPU. (It caches nothing: no ``cache_dir``.)"""
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        return cls(device=device, precision=precision or default_precision(device), threads=threads)

    @classmethod
    def auto_candidate(cls, device: str, precision: str, threads=None, cache_dir=None) -> "TorchBackend":
        """Always a candidate of ``auto``: torch is what vsr itself runs on (threads: CPU only);
        precision None: its default on ``device``."""
        return cls(device=device, precision=precision or default_precision(device), threads=threads if device == "cpu" else None)

    @staticmethod
    def uses_gpu(device: str | None) -> bool | None:
        """The device says; None: torch takes a GPU where there is one."""
        return device_uses_gpu(device)

    def check(self) -> None:
        """Raise :class:`ConfigError` if this combination cannot run here."""
        if self.precision not in DTYPES:
            raise ConfigError(f"precision must be one of {', '.join(DTYPES)}, not {self.precision!r}")
        if self.device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise ConfigError(f"--device {self.device} asked for, but this torch build sees no CUDA GPU")
        elif self.device != "cpu":
            raise ConfigError(f"device must be cpu, cuda or cuda:N, not {self.device!r}")
        elif self.precision == "fp16":
            raise ConfigError("fp16 on CPU is not supported by the torch backend; use fp32 or bf16")
        elif self.cuda_graph or self.compile:
            raise ConfigError("cuda_graph and compile are CUDA options of the torch backend")

    def build(self, model: nn.Module):
        self.check()
        if self.device.startswith("cuda"):
            from .torch_cuda import TorchCudaRunner

            return TorchCudaRunner(model, self)
        return TorchCpuRunner(model, self)


@contextlib.contextmanager
def intra_op_threads(threads: int | None):
    """torch's intra-op thread count set to ``threads`` (None: left alone), restored on exit.

    The count is the process's, not the runner's: set around each forward, not once when a runner
    is built, so that building a runner with ``threads=1`` leaves the rest of the process (other
    runners, a caller's own torch code) as it was.
    """
    before = torch.get_num_threads()
    if not threads or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TorchCpuRunner:
    """Eager torch on CPU: numpy in and out without copies (``torch.from_numpy``)."""

    def __init__(self, model: nn.Module, backend: TorchBackend):
        self.backend = backend
        self.name = backend.name
        self.device = "cpu"
        self.precision = backend.precision
        self.scale = model.scale
        self._dtype = DTYPES[backend.precision]
        channels_last = True if backend.channels_last is None else backend.channels_last
        self._memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # A copy: the caller's model stays as it was (fp32, its own memory format).
        self.model = copy.deepcopy(model).eval().to(device="cpu", dtype=self._dtype, memory_format=self._memory_format)

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        return True

    def stats(self) -> dict:
        return {}

    @torch.inference_mode()
    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        x = torch.from_numpy(batch)[:, None]
        if self._dtype != torch.float32:
            x = x.to(self._dtype)
        with intra_op_threads(self.backend.threads):
            y = self.model(x.contiguous(memory_format=self._memory_format))
        torch.from_numpy(out).copy_(y[:, 0])
        return out
