"""ONNX Runtime backend: the exported graph (cached on disk) on the CPU, or on CUDA/TensorRT EPs.

On x86 CPUs with AVX2 or AVX-512, ORT's full graph optimisation rewrites the convolutions into its
blocked NCHWc layout with the activation fused in; that is what makes it about twice as fast as
eager torch here (ESPCN x2 on 2 Zen 3 cores: see ``bench/results/backends_*.md``).

Importing this module imports no torch: torch is needed to export a model (``build``) or to ask
whether it sees a GPU (``for_request``), not to run a graph, and a run from a cached graph
(:mod:`.cached_start`) builds its sessions here without it.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from ..sysinfo import usable_cores
from .base import device_uses_gpu
from .graph_card import runner_on_cached_graph
from .graph_runner import GraphFileRunner
from .onnx_names import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME
from .side_by_side import SideBySideRunner

if TYPE_CHECKING:
    import torch.nn as nn


def import_onnxruntime():
    """The ``onnxruntime`` module, or :class:`ConfigError` saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("the onnxruntime backend needs ONNX Runtime: pip install onnxruntime") from None
    return onnxruntime




@dataclass(frozen=True)
class OnnxRuntimeBackend:
    """ONNX Runtime.

    Knobs that matter:
      - ``device``: "cpu" (CPU execution provider) or "cuda"/"cuda:N" (TensorRT EP when ORT has
        it, else the CUDA EP).
      - ``threads``: intra-op threads; None: one per usable core (ORT's own default counts the
        machine's cores, ignoring taskset).
      - ``spin``: let idle worker threads spin between operators. Off by default: ESPCN has five
        large operators, so spinning saves little (on vs off were within noise here), and a
        spinning thread takes CPU from the video decoder and encoder running beside it.
      - ``precision``: fp32; fp16 only through the TensorRT EP.
      - ``cache_dir``: where exported graphs are kept (default ``~/.cache/vsr``).
      - ``side_by_side``: on the CPU with more than one thread, run one single-threaded session
        per thread side by side, each on its own frames or strip of a frame
        (:mod:`.side_by_side`), instead of one session that splits every operator: no barrier
        between operators, which a video encoder on the same cores would stall.
      - ``block_subpixel``: on the CPU, export ESPCN x2's last layer in the form that fills ORT's
        8-channel blocks (:mod:`.blocked_subpixel`; same output, ≈ 8 % faster per frame).
    """

    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    spin: bool = False
    opset: int = DEFAULT_OPSET
    cache_dir: str | None = None
    block_subpixel: bool = True
    side_by_side: bool = True

    name = "onnxruntime"

    @classmethod
    def for_request(cls, device=None, precision=None, threads=None, cache_dir=None) -> "OnnxRuntimeBackend":
        """This backend for what a user asked; None takes its default: fp32, on a CUDA GPU when
        torch sees one and ORT has a GPU provider (they come in another wheel, onnxruntime-gpu),
        else on the CPU."""
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() and cls(device="cuda").providers() else "cpu"
        return cls(device=device, precision=precision or "fp32", threads=threads, cache_dir=cache_dir)

    @classmethod
    def auto_candidate(cls, device: str, precision: str, threads=None, cache_dir=None) -> "OnnxRuntimeBackend | None":
        """A candidate of ``auto`` on the CPU in fp32 (asked for, or no precision asked), when
        ``onnxruntime`` is installed (looked up, not imported). On a GPU, TensorRT and torch come
        first and ORT is not tried."""
        if device != "cpu" or precision not in (None, "fp32") or importlib.util.find_spec("onnxruntime") is None:
            return None
        return cls(device="cpu", threads=threads, cache_dir=cache_dir)

    @staticmethod
    def uses_gpu(device: str | None) -> bool | None:
        """The device says; None counts as the CPU: the plain ``onnxruntime`` wheel has no GPU
        provider, so a task without a device is scheduled as CPU work."""
        return False if device is None else device_uses_gpu(device)

    def providers(self) -> list:
        """Execution providers to ask for, best first (each one with its options)."""
        ort = import_onnxruntime()
        available = ort.get_available_providers()
        if self.device == "cpu":
            return ["CPUExecutionProvider"]
        index = int(self.device.split(":")[1]) if ":" in self.device else 0
        chosen = []
        if "TensorrtExecutionProvider" in available:
            chosen.append(("TensorrtExecutionProvider", {"device_id": index, "trt_fp16_enable": self.precision == "fp16"}))
        if "CUDAExecutionProvider" in available and self.precision == "fp32":
            chosen.append(("CUDAExecutionProvider", {"device_id": index}))
        return chosen

    def check(self) -> None:
        import_onnxruntime()
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ConfigError(f"device must be cpu, cuda or cuda:N, not {self.device!r}")
        if self.device == "cpu" and self.precision != "fp32":
            raise ConfigError(f"the onnxruntime backend runs fp32 on CPU, not {self.precision}")
        if self.device.startswith("cuda") and not self.providers():
            wanted = "the TensorRT execution provider" if self.precision == "fp16" else "the CUDA or TensorRT execution provider"
            raise ConfigError(f"--device {self.device} with onnxruntime needs {wanted}: pip install onnxruntime-gpu")

    def session_options(self):
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = self.threads or usable_cores()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spin else "0")
        options.log_severity_level = 3  # errors only: no NCHWc or provider chatter on stderr
        return options

    def runtime_tag(self) -> str:
        """The runtime and its version, as graph caches and cards are keyed: ``onnxruntime-1.32.0``."""
        return f"onnxruntime-{import_onnxruntime().__version__}"

    def build(self, model: nn.Module) -> "OnnxRuntimeRunner":
        """Export ``model`` (or find its graph in the cache) and start sessions on it. For a model
        loaded from a weights file, leave a card saying so, for the next run's quick start."""
        from .blocked_subpixel import can_block

        self.check()
        blocked = self.block_subpixel and self.device == "cpu" and can_block(model)
        cpu_fp32 = self.device == "cpu" and self.precision == "fp32"  # what the quick start serves
        return runner_on_cached_graph(self, model, blocked, leave_card=cpu_fp32)

    def runner_for_graph(self, scale: int, path, cache_hit: bool, radius: int) -> "OnnxRuntimeRunner":
        """Sessions on the graph at ``path``: one, or on the CPU with several threads one
        single-threaded session per thread side by side (cut into strips with ``radius`` rows of margin)."""
        self.check()
        threads = self.threads or usable_cores()
        if self.side_by_side and self.device == "cpu" and threads > 1:
            single = replace(self, threads=1)
            workers = [OnnxRuntimeRunner(scale, path, cache_hit, single) for _ in range(threads)]
            return OnnxRuntimeSideBySide(workers, radius)
        return OnnxRuntimeRunner(scale, path, cache_hit, self)


class OnnxRuntimeRunner(GraphFileRunner):
    """One inference session; inputs and outputs bound in place (no copies in or out)."""

    out_of_memory_words = ("allocat", "out of memory")

    def __init__(self, scale: int, path, cache_hit: bool, backend: OnnxRuntimeBackend):
        ort = import_onnxruntime()
        super().__init__(scale, path, cache_hit, backend)
        self.precision = backend.precision
        self.session = ort.InferenceSession(str(path), backend.session_options(), providers=backend.providers())
        self.providers = self.session.get_providers()
        self._binding = self.session.io_binding()

    def _infer(self, batch: np.ndarray, out: np.ndarray) -> None:
        binding = self._binding
        # Bound to the caller's arrays: ORT reads the input and writes the output where they are.
        binding.bind_cpu_input(INPUT_NAME, batch[:, None])
        binding.bind_output(OUTPUT_NAME, "cpu", 0, np.float32, (out.shape[0], 1, *out.shape[1:]), out.ctypes.data)
        try:
            self.session.run_with_iobinding(binding)
        finally:
            binding.clear_binding_inputs()
            binding.clear_binding_outputs()


class OnnxRuntimeSideBySide(SideBySideRunner):
    """Single-threaded sessions of one graph side by side; reports that graph like one session."""

    onnx_path = property(lambda self: self.workers[0].onnx_path)
    cache_hit = property(lambda self: self.workers[0].cache_hit)
    providers = property(lambda self: self.workers[0].providers)
