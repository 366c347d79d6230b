"""OpenVINO backend: the exported ONNX graph compiled by OpenVINO's CPU plugin, in bf16 or fp32.

Why a second CPU runtime: ONNX Runtime has no bf16 convolutions on x86, while OpenVINO's CPU
plugin runs them on AVX512-BF16 and AMX instructions. On 2 Zen 4 cores (AVX512-BF16) ESPCN x2 takes
12.0 ms per 352x288 frame in bf16 against ONNX Runtime's 29.0 in fp32, 250 against 448 ms at
1080p; in fp32 the two runtimes are within 10 % (``bench/results/cpu_engines_espcn_x2.md``). So ``auto`` uses OpenVINO only for bf16, and only
where bf16 pays (:mod:`.bf16_speed`): without those instructions OpenVINO would emulate bf16
through fp32, and on an Intel Xeon with AVX512-BF16 but no AMX it ran 1.4x slower than fp32.

bf16 carries 8 significant bits: ESPCN x2 loses 0.02 dB on Set5 and moves a fifth of the output
codes by one or two levels. That is why it is a default only for 8-bit pictures and never for
scoring (``vsr eval`` measures in fp32), and why the runner reports the precision OpenVINO actually
compiled, not the one asked for.

Importing this module imports neither torch nor OpenVINO: torch is needed only to export a model
(``build``), and a run from a cached graph (:mod:`.cached_start`) builds its runner without it.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from . import bf16_speed
from ..sysinfo import usable_cores
from .graph_card import runner_on_cached_graph
from .graph_runner import GraphFileRunner
from .onnx_names import DEFAULT_OPSET

if TYPE_CHECKING:
    import torch.nn as nn

# vsr's precision names -> OpenVINO's inference precision hints.
_HINTS = {"fp32": "f32", "bf16": "bf16"}


def import_openvino():
    """The ``openvino`` module, or :class:`ConfigError` saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise ConfigError("the openvino backend needs OpenVINO: pip install openvino") from None
    return openvino


def openvino_installed() -> bool:
    """Whether ``openvino`` can be imported (looked up, not imported: importing it takes ~0.2 s)."""
    return importlib.util.find_spec("openvino") is not None


@dataclass(frozen=True)
class OpenVinoBackend:
    """OpenVINO's CPU plugin.

    Knobs that matter:
      - ``precision``: bf16 (where the CPU has AVX512-BF16 or AMX) or fp32.
      - ``threads``: threads of the one inference request; None: one per usable core. Threads are
        not pinned to cores: pinned, they could not move off a core the video encoder is using.
      - ``cache_dir``: where exported graphs are kept (default ``~/.cache/vsr``), shared with
        ONNX Runtime's (the same graph, keyed by runtime).
      - ``block_subpixel``: export ESPCN x2's last layer in its blocked form (:mod:`.blocked_subpixel`);
        OpenVINO runs it faster too (11.6 against 13.5 ms per CIF frame in bf16).
    """

    device: str = "cpu"
    precision: str = "bf16"
    threads: int | None = None
    opset: int = DEFAULT_OPSET
    cache_dir: str | None = None
    block_subpixel: bool = True

    name = "openvino"

    @classmethod
    def for_request(cls, device=None, precision=None, threads=None, cache_dir=None) -> "OpenVinoBackend":
        """This backend for what a user asked; None takes its default: the CPU, in bf16 where
        bf16 pays on it, else fp32."""
        if precision is None:
            precision = "bf16" if bf16_speed.bf16_pays() else "fp32"
        return cls(device=device or "cpu", precision=precision, threads=threads, cache_dir=cache_dir)

    @classmethod
    def auto_candidate(cls, device: str, precision: str | None, threads=None, cache_dir=None) -> "OpenVinoBackend | None":
        """A candidate of ``auto`` on a CPU where bf16 pays, for bf16 (asked for, or no
        precision asked), when ``openvino`` is installed. Not for fp32: there ONNX Runtime is as
        fast and is what vsr's figures were measured with."""
        if device != "cpu" or precision not in (None, "bf16") or not bf16_speed.bf16_pays() or not openvino_installed():
            return None
        return cls(device="cpu", precision="bf16", threads=threads, cache_dir=cache_dir)

    @staticmethod
    def uses_gpu(device: str | None) -> bool | None:
        """Never: vsr runs OpenVINO on the CPU only."""
        return False

    def check(self) -> None:
        import_openvino()
        if self.device != "cpu":
            raise ConfigError(f"the openvino backend runs on the CPU, not {self.device!r}")
        if self.precision not in _HINTS:
            raise ConfigError(f"the openvino backend runs fp32 or bf16, not {self.precision}")
        if self.precision == "bf16" and not bf16_speed.cpu_has_bf16():
            raise ConfigError("bf16 needs a CPU with AVX512-BF16 or AMX (this one would emulate it, slower than fp32); use --precision fp32")

    def runtime_tag(self) -> str:
        """The runtime and its version, as graph caches and cards are keyed: ``openvino-2026.4.1``."""
        return f"openvino-{import_openvino().__version__.split('-')[0]}"

    def config(self) -> dict:
        """The CPU plugin's settings for this backend's compiled model."""
        return {
            "INFERENCE_PRECISION_HINT": _HINTS[self.precision],
            "INFERENCE_NUM_THREADS": self.threads or usable_cores(),
            "ENABLE_CPU_PINNING": False,
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": 1,
        }

    def build(self, model: nn.Module) -> "OpenVinoRunner":
        """Export ``model`` (or find its graph in the cache) and compile it. For a model loaded from
        a weights file, leave a card saying so, for the next run's quick start."""
        from .blocked_subpixel import can_block

        self.check()
        return runner_on_cached_graph(self, model, self.block_subpixel and can_block(model), leave_card=True)

    def runner_for_graph(self, scale: int, path, cache_hit: bool, radius: int) -> "OpenVinoRunner":
        """The graph at ``path`` compiled for this backend (``radius`` is the tiler's business)."""
        self.check()
        return OpenVinoRunner(scale, path, cache_hit, self)


class OpenVinoRunner(GraphFileRunner):
    """One compiled model and one inference request; shapes may change from call to call."""

    out_of_memory_words = ("alloc", "memory")

    def __init__(self, scale: int, path, cache_hit: bool, backend: OpenVinoBackend):
        ov = import_openvino()
        super().__init__(scale, path, cache_hit, backend)
        self._ov = ov
        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", backend.config())
        # What OpenVINO compiled, which is what the user must be told: it may refuse a hint.
        compiled = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.precision = "bf16" if compiled == ov.Type.bf16 else "fp32"
        self._request = self.compiled.create_infer_request()

    def _infer(self, batch: np.ndarray, out: np.ndarray) -> None:
        ov = self._ov
        request = self._request
        # The request reads the caller's array and writes into ``out`` in place (no copies);
        # infer() releases the GIL, so side-by-side callers and the video stages run meanwhile.
        request.set_input_tensor(ov.Tensor(batch[:, None], shared_memory=True))
        request.set_output_tensor(ov.Tensor(out[:, None], shared_memory=True))
        request.infer()
