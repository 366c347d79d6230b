"""TensorRT backend: an engine built from the ONNX graph, cached on disk, run on CUDA streams.

Optional: ``tensorrt`` (``pip install 'vsr[tensorrt]'``, TensorRT 10) is imported here and
nowhere else. Engines are built with the TensorRT Python API (Builder, OnnxParser, one
optimisation profile, fp16 flag, a timing cache kept on disk) and cached under a key of everything
that changes them: ONNX hash, TensorRT version, GPU name and compute capability, profile,
precision. A second run with the same frame size loads the engine at once.

Written against the documented TensorRT 10 Python API; it has not been run (the machine this was
written on has no GPU, and TensorRT's wheels need one to install).
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from .base import check_batch, first_line, output_for
from .cache import cache_dir, key_of, write_atomically
from .onnx_export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, cached_onnx
from .torch_cuda import CudaPipeline

WORKSPACE_BYTES = 1 << 30
# The profile's smallest frame side: any tile, however small, must fit (kernels are chosen for
# the profile's "opt" shape, so a wide range costs no speed).
MIN_SIDE = 1


def import_tensorrt():
    """The ``tensorrt`` module, or :class:`ConfigError` saying how to install it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise ConfigError(f"the tensorrt backend needs TensorRT 10: pip install 'vsr[tensorrt]' ({first_line(exc)})") from None
    if int(trt.__version__.split(".")[0]) < 10:
        raise ConfigError(f"the tensorrt backend needs TensorRT 10 or newer, found {trt.__version__}")
    return trt


@dataclass(frozen=True)
class TensorRTBackend:
    """TensorRT on one NVIDIA GPU.

    Knobs that matter:
      - ``precision``: fp16 (default on GPUs; about twice fp32) or fp32.
      - ``max_size``: (width, height) of the largest LR frame the engine takes; None builds for
        the first frame seen (rebuilt, and cached, when a bigger one comes).
      - ``max_frames``: frames per call the engine takes (its profile's batch).
      - ``cache_dir``: engines and the timing cache (default ``~/.cache/vsr``).
    """

    device: str = "cuda"
    precision: str = "fp16"
    max_size: tuple[int, int] | None = None
    max_frames: int = 1
    opset: int = DEFAULT_OPSET
    cache_dir: str | None = None

    name = "tensorrt"

    def check(self) -> None:
        if not self.device.startswith("cuda"):
            raise ConfigError(f"the tensorrt backend runs on NVIDIA GPUs only, not on {self.device!r}")
        if self.precision not in ("fp16", "fp32"):
            raise ConfigError(f"the tensorrt backend takes fp16 or fp32, not {self.precision}")
        if not torch.cuda.is_available():
            raise ConfigError("the tensorrt backend needs a CUDA GPU, and torch sees none")
        import_tensorrt()

    def build(self, model: nn.Module) -> "TensorRTRunner":
        self.check()
        runner = TensorRTRunner(model, self)
        if self.max_size is not None:
            width, height = self.max_size
            runner.ensure_engine(max(self.max_frames, CudaPipeline.frames_per_chunk(height, width)), height, width)
        return runner

    def engine_file(self, model: nn.Module, width: int, height: int) -> Path:
        """Build (or find) the engine for frames up to ``width`` x ``height`` and return its path."""
        self.check()
        frames = max(self.max_frames, CudaPipeline.frames_per_chunk(height, width))
        return TensorRTRunner(model, self).engine_path(frames, height, width, build=True)


class _Engine:
    def __init__(self, trt, data: bytes, logger):
        self.runtime = trt.Runtime(logger)
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise ConfigError("TensorRT could not load the cached engine")
        self.context = self.engine.create_execution_context()
        _, _, self.max_shape = self.engine.get_tensor_profile_shape(INPUT_NAME, 0)


class TensorRTRunner:
    def __init__(self, model: nn.Module, backend: TensorRTBackend):
        self.trt = import_tensorrt()
        self.backend = backend
        self.name = backend.name
        self.device = backend.device
        self.precision = backend.precision
        self.scale = model.scale
        self._model = model
        self._device = torch.device(backend.device)
        self._logger = self.trt.Logger(self.trt.Logger.WARNING)
        self._engine: _Engine | None = None
        self._onnx: Path | None = None
        self.pipeline = CudaPipeline(self._device, self.scale, self._compute)

    # -- engines -------------------------------------------------------------------------------

    def _onnx_path(self) -> Path:
        if self._onnx is None:
            self._onnx, _ = cached_onnx(self._model, self.backend.opset, f"tensorrt-{self.trt.__version__}", self.backend.cache_dir)
        return self._onnx

    def _gpu(self) -> dict:
        props = torch.cuda.get_device_properties(self._device)
        return {"gpu": props.name, "sm": f"{props.major}.{props.minor}"}

    def engine_path(self, k: int, h: int, w: int, build: bool = True) -> Path:
        onnx_data = self._onnx_path().read_bytes()
        profile = {"min": (1, 1, min(MIN_SIDE, h), min(MIN_SIDE, w)), "opt": (k, 1, h, w), "max": (k, 1, h, w)}
        fields = {
            "onnx": hashlib.sha256(onnx_data).hexdigest(),
            "tensorrt": self.trt.__version__,
            **self._gpu(),
            "profile": profile,
            "precision": self.precision,
        }
        folder = cache_dir(self.backend.cache_dir, "tensorrt")
        path = folder / f"{self._model.registry_name}_x{self.scale}_{w}x{h}x{k}_{self.precision}_{key_of(fields)}.engine"
        if build and not path.is_file():
            print(f"vsr: building a TensorRT engine for {w}x{h} frames (once; cached in {folder})", file=sys.stderr)
            write_atomically(path, self._build(onnx_data, profile, folder))
        return path

    def _build(self, onnx_data: bytes, profile_shapes: dict, folder: Path) -> bytes:
        trt = self.trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(onnx_data):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ConfigError(f"TensorRT could not parse the ONNX graph: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        if self.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        profile.set_shape(INPUT_NAME, profile_shapes["min"], profile_shapes["opt"], profile_shapes["max"])
        config.add_optimization_profile(profile)
        # The timing cache keeps kernel timings across builds (other sizes, other models) on this GPU.
        gpu = self._gpu()
        cache_path = folder / f"timing_{key_of({'tensorrt': trt.__version__, **gpu})}.cache"
        timing = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
        config.set_timing_cache(timing, ignore_mismatch=False)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ConfigError("TensorRT failed to build an engine (see its messages above)")
        write_atomically(cache_path, bytes(config.get_timing_cache().serialize()))
        return bytes(serialized)

    def ensure_engine(self, k: int, h: int, w: int) -> None:
        """Have an engine that takes (k, h, w); build or load one for this size if not."""
        if self._engine is not None and self._fits(self._engine.max_shape, h, w):
            return
        self.pipeline.release()
        self._engine = None
        self._engine = _Engine(self.trt, self.engine_path(k, h, w).read_bytes(), self._logger)
        # Chunks never exceed the profile's batch; frames of any size up to its maximum fit.
        self.pipeline.max_chunk = int(self._engine.max_shape[0])

    @staticmethod
    def _fits(max_shape, h: int, w: int) -> bool:
        return h <= max_shape[2] and w <= max_shape[3]

    # -- running ---------------------------------------------------------------------------------

    def accepts(self, shape: tuple[int, int, int]) -> bool:
        # Before the first engine exists, any shape: the first batch decides the profile.
        return self._engine is None or self._fits(self._engine.max_shape, shape[1], shape[2])

    def stats(self) -> dict:
        return {}

    def _compute(self, x: torch.Tensor) -> torch.Tensor:
        k, _, h, w = x.shape
        context = self._engine.context
        y = torch.empty((k, 1, self.scale * h, self.scale * w), dtype=torch.float32, device=self._device)
        context.set_input_shape(INPUT_NAME, tuple(x.shape))
        context.set_tensor_address(INPUT_NAME, x.data_ptr())
        context.set_tensor_address(OUTPUT_NAME, y.data_ptr())
        if not context.execute_async_v3(torch.cuda.current_stream(self._device).cuda_stream):
            raise ConfigError("TensorRT failed to run the engine")
        return y

    @torch.inference_mode()
    def run_with_finite_flags(self, batch: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        n, h, w = batch.shape
        # The profile's batch does not depend on this call's n, so later batches reuse the engine.
        self.ensure_engine(max(self.backend.max_frames, CudaPipeline.frames_per_chunk(h, w)), h, w)
        return out, self.pipeline.run_or_release(batch, out)

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return self.run_with_finite_flags(batch, out)[0]

