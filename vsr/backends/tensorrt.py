"""TensorRT backend: an engine built from the ONNX graph, cached on disk, run on CUDA streams.

Optional: ``tensorrt`` (``pip install 'vsr[tensorrt]'``, TensorRT 10 or 11) is imported here and
nowhere else. Engines are built with the TensorRT Python API (Builder, OnnxParser, one
optimisation profile, a timing cache kept on disk) and cached under a key of everything that
changes them: ONNX hash, TensorRT version, GPU name and compute capability, profile, precision.
A second run with the same frame size loads the engine at once.

Precision (:func:`build_settings`): TensorRT 11 has no FP16 builder flag (networks are strongly
typed: precision comes from the graph's types), and 10.12 deprecated it. There, fp16 is an fp16
ONNX graph (:func:`~vsr.backends.onnx_export.fp16_graph`) in a strongly typed network, as vs-mlrt
builds; before 10.12 the fp32 graph with the FP16 flag. fp32 clears the TF32 flag, which is on by
default and would round every convolution's inputs to 10-bit mantissas. The engine's input and
output types are read from the engine, never assumed.

Written against the documented TensorRT 10/11 Python API (the migration guide to 11 lists what
was removed). TensorRT itself has never run here: no machine of this project had a GPU and
TensorRT's wheels need one to install. The decisions (flags per version, buffers per engine dtype,
errors) are tested with a stand-in ``tensorrt`` module (tests/test_backends_tensorrt.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError, VsrError
from .base import OutOfMemory, check_batch, default_precision, first_line, output_for
from ..files import digest_of, write_atomically
from ..notices import print_note
from .cache import cache_dir
from .onnx_export import DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, cached_onnx, fp16_graph
from .torch_cuda import CudaPipeline

WORKSPACE_BYTES = 1 << 30
# The profile's smallest frame side: any tile, however small, must fit (kernels are chosen for
# the profile's "opt" shape, so a wide range costs no speed).
MIN_SIDE = 1


# TensorRT majors this module is written for (setup.cfg's extra admits the same).
SUPPORTED_MAJORS = (10, 11)
# From this version on, fp16 is built strongly typed from an fp16 graph (the FP16 flag is deprecated).
STRONGLY_TYPED_FROM = (10, 12)


def trt_version(trt) -> tuple[int, int]:
    """(major, minor) of the ``tensorrt`` module."""
    major, minor = (trt.__version__.split(".") + ["0"])[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def import_tensorrt():
    """The ``tensorrt`` module, or :class:`ConfigError` saying how to install it."""
    try:
        import tensorrt as trt
    except ImportError as exc:
        raise ConfigError(f"the tensorrt backend needs TensorRT 10 or 11: pip install 'vsr[tensorrt]' ({first_line(exc)})") from None
    if trt_version(trt)[0] not in SUPPORTED_MAJORS:
        raise ConfigError(f"the tensorrt backend handles TensorRT 10 and 11, found {trt.__version__}: pip install 'vsr[tensorrt]'")
    return trt


@dataclass(frozen=True)
class BuildSettings:
    """How an engine of one precision is built on one TensorRT version."""

    strongly_typed: bool  # network created STRONGLY_TYPED: precision from the graph's types
    fp16_graph: bool  # parse the fp16 form of the ONNX graph
    fp16_flag: bool  # set BuilderFlag.FP16 (weakly typed fp16, TensorRT < 10.12)
    clear_tf32: bool  # clear BuilderFlag.TF32 (on by default): fp32 means IEEE fp32

    @property
    def tag(self) -> str:
        """Part of the engine's cache key."""
        return f"{'typed' if self.strongly_typed else 'weak'}-{'fp16graph' if self.fp16_graph else 'fp32graph'}-{'fp16flag' if self.fp16_flag else 'noflag'}-{'notf32' if self.clear_tf32 else 'tf32'}"


def build_settings(trt, precision: str) -> BuildSettings:
    """The flags and graph for ``precision`` ("fp16" or "fp32") on this TensorRT."""
    has_fp16_flag = hasattr(trt.BuilderFlag, "FP16")
    typed = trt_version(trt) >= STRONGLY_TYPED_FROM or not has_fp16_flag
    if precision == "fp16":
        return BuildSettings(strongly_typed=typed, fp16_graph=typed, fp16_flag=not typed, clear_tf32=False)
    return BuildSettings(strongly_typed=typed, fp16_graph=False, fp16_flag=False, clear_tf32=hasattr(trt.BuilderFlag, "TF32"))


def network_flags(trt, settings: BuildSettings) -> int:
    """The ``create_network`` flags: STRONGLY_TYPED where asked and the enum has it (TensorRT 11
    types every network strongly and may drop the member; explicit batch is the only mode)."""
    member = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 1 << int(member) if settings.strongly_typed and member is not None else 0


def configure(trt, config, settings: BuildSettings) -> None:
    """Apply ``settings``' builder flags to ``config``."""
    if settings.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    if settings.clear_tf32:
        config.clear_flag(trt.BuilderFlag.TF32)


def on_device(device: torch.device):
    """Make ``cuda:N`` the current CUDA device for what follows: TensorRT builds, loads and runs
    on the current device, which is device 0 unless set (plain "cuda" keeps the current one)."""
    return torch.cuda.device(device.index) if device.index is not None else contextlib.nullcontext()


def torch_dtype(trt, data_type) -> torch.dtype:
    """The torch dtype of a TensorRT ``DataType`` of an engine's input or output."""
    table = {trt.DataType.FLOAT: torch.float32, trt.DataType.HALF: torch.float16}
    if hasattr(trt.DataType, "BF16"):
        table[trt.DataType.BF16] = torch.bfloat16
    if data_type not in table:
        raise ConfigError(f"the TensorRT engine has {getattr(data_type, 'name', data_type)} input or output; vsr feeds float32, float16 or bfloat16")
    return table[data_type]


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
    PRECISIONS = ("fp16", "fp32")

    @classmethod
    def for_request(cls, device=None, precision=None, threads=None, cache_dir=None) -> "TensorRTBackend":
        """This backend for what a user asked; None takes its default: the first CUDA GPU, fp16
        there. (TensorRT sets its own threads: ``threads`` is not used.)"""
        device = device or "cuda"
        return cls(device=device, precision=precision or default_precision(device), cache_dir=cache_dir)

    @classmethod
    def auto_candidate(cls, device: str, precision: str, threads=None, cache_dir=None) -> "TensorRTBackend | None":
        """A candidate of ``auto`` on a CUDA GPU in fp16 or fp32, when the ``tensorrt`` package is
        installed (looked up, not imported: the import is slow, and only a build needs it)."""
        if not device.startswith("cuda") or precision not in cls.PRECISIONS:
            return None
        if importlib.util.find_spec("tensorrt") is None:
            return None
        return cls(device=device, precision=precision, cache_dir=cache_dir)

    @staticmethod
    def uses_gpu(device: str | None) -> bool:
        """Always: TensorRT runs on NVIDIA GPUs only."""
        return True

    def check(self) -> None:
        if not self.device.startswith("cuda"):
            raise ConfigError(f"the tensorrt backend runs on NVIDIA GPUs only, not on {self.device!r}")
        if self.precision not in self.PRECISIONS:
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
    """A deserialised engine, its execution context, its profile's largest shape and I/O dtypes."""

    def __init__(self, trt, data: bytes, logger):
        self.runtime = trt.Runtime(logger)
        self.engine = self.runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise ConfigError("TensorRT could not load the cached engine (delete it from the cache to rebuild)")
        self.context = self.engine.create_execution_context()
        if self.context is None:
            # What TensorRT does when the device memory for the activations cannot be allocated.
            raise OutOfMemory("TensorRT could not create an execution context (out of GPU memory)")
        _, _, self.max_shape = self.engine.get_tensor_profile_shape(INPUT_NAME, 0)
        self.input_dtype = torch_dtype(trt, self.engine.get_tensor_dtype(INPUT_NAME))
        self.output_dtype = torch_dtype(trt, self.engine.get_tensor_dtype(OUTPUT_NAME))


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
        # The frame chain's device step (vsr/video/chain_stage.py), valid once an engine exists
        # (the pipeline's first frame goes through run(), which builds it). One execution context
        # must not run on two streams at once: the chain's slots share one stream.
        self.device_streams = 1

    def device_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._engine is None or not self._fits(self._engine.max_shape, x.shape[2], x.shape[3]):
            raise ConfigError(f"no TensorRT engine for {x.shape[3]}x{x.shape[2]} frames yet")
        with on_device(self._device):
            return self._compute(x)

    # -- engines -------------------------------------------------------------------------------

    def _onnx_path(self) -> Path:
        if self._onnx is None:
            self._onnx, _ = cached_onnx(self._model, self.backend.opset, f"tensorrt-{self.trt.__version__}", self.backend.cache_dir)
        return self._onnx

    def _gpu(self) -> dict:
        props = torch.cuda.get_device_properties(self._device)
        return {"gpu": props.name, "sm": f"{props.major}.{props.minor}"}

    def engine_path(self, k: int, h: int, w: int, build: bool = True) -> Path:
        """The cached engine for (k, h, w) frames; built first if missing and ``build``. Any
        failure of TensorRT's or of the export becomes one :class:`ConfigError` line."""
        try:
            with on_device(self._device):
                return self._engine_path(k, h, w, build)
        except (VsrError, OutOfMemory):
            raise
        except Exception as exc:
            raise ConfigError(f"TensorRT could not build an engine for {w}x{h} frames: {first_line(exc)}") from None

    def _engine_path(self, k: int, h: int, w: int, build: bool) -> Path:
        settings = build_settings(self.trt, self.precision)
        onnx_data = self._onnx_path().read_bytes()
        if settings.fp16_graph:
            onnx_data = fp16_graph(onnx_data)
        profile = {"min": (1, 1, min(MIN_SIDE, h), min(MIN_SIDE, w)), "opt": (k, 1, h, w), "max": (k, 1, h, w)}
        fields = {
            "onnx": hashlib.sha256(onnx_data).hexdigest(),
            "tensorrt": self.trt.__version__,
            **self._gpu(),
            "profile": profile,
            "precision": self.precision,
            "settings": settings.tag,
        }
        folder = cache_dir(self.backend.cache_dir, "tensorrt")
        path = folder / f"{self._model.registry_name}_x{self.scale}_{w}x{h}x{k}_{self.precision}_{digest_of(fields)}.engine"
        if build and not path.is_file():
            # Minutes of silence otherwise: said even under --quiet, as ffmpeg says what it waits on.
            print_note(f"building a TensorRT engine for {w}x{h} frames (once; cached in {folder})")
            write_atomically(path, self._build(onnx_data, profile, folder, settings))
        return path

    def _build(self, onnx_data: bytes, profile_shapes: dict, folder: Path, settings: BuildSettings) -> bytes:
        trt = self.trt
        builder = trt.Builder(self._logger)
        network = builder.create_network(network_flags(trt, settings))
        parser = trt.OnnxParser(network, self._logger)
        if not parser.parse(onnx_data):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ConfigError(f"TensorRT could not parse the ONNX graph: {errors}")
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
        configure(trt, config, settings)
        profile = builder.create_optimization_profile()
        profile.set_shape(INPUT_NAME, profile_shapes["min"], profile_shapes["opt"], profile_shapes["max"])
        config.add_optimization_profile(profile)
        # The timing cache keeps kernel timings across builds (other sizes, other models) on this GPU.
        gpu = self._gpu()
        cache_path = folder / f"timing_{digest_of({'tensorrt': trt.__version__, **gpu})}.cache"
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
        data = self.engine_path(k, h, w).read_bytes()
        try:
            with on_device(self._device):
                self._engine = _Engine(self.trt, data, self._logger)
        except (VsrError, OutOfMemory):
            raise
        except Exception as exc:
            raise ConfigError(f"TensorRT could not load its engine for {w}x{h} frames: {first_line(exc)}") from None
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
        """(k, 1, h, w) float32 on the device -> (k, 1, sh, sw) float32, on the current stream.

        The buffers take the engine's own I/O dtypes (an fp16-typed engine may have fp16 I/O), so
        TensorRT never reads a buffer of the wrong element size."""
        return run_engine(self._engine, x, self.scale, torch.cuda.current_stream(self._device).cuda_stream)

    @torch.inference_mode()
    def run_with_finite_flags(self, batch: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        batch = check_batch(batch)
        out = output_for(batch, self.scale, out)
        n, h, w = batch.shape
        # The profile's batch does not depend on this call's n, so later batches reuse the engine.
        self.ensure_engine(max(self.backend.max_frames, CudaPipeline.frames_per_chunk(h, w)), h, w)
        with on_device(self._device):
            return out, self.pipeline.run_or_release(batch, out)

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        return self.run_with_finite_flags(batch, out)[0]



def run_engine(engine: _Engine, x: torch.Tensor, scale: int, stream: int) -> torch.Tensor:
    """Run ``engine`` on ``x`` (k, 1, h, w) on ``stream``; (k, 1, sh, sw) float32.

    ``set_input_shape`` returning False means the shape is outside the engine's profile (the
    runner's ``accepts`` should have prevented it): a clear error, never a run on stale shapes."""
    context = engine.context
    x, y = io_buffers(engine, x, scale)
    if not context.set_input_shape(INPUT_NAME, tuple(x.shape)):
        raise ConfigError(f"TensorRT refused input shape {tuple(x.shape)}: outside the engine's profile (largest {tuple(engine.max_shape)})")
    context.set_tensor_address(INPUT_NAME, x.data_ptr())
    context.set_tensor_address(OUTPUT_NAME, y.data_ptr())
    if not context.execute_async_v3(stream):
        raise ConfigError("TensorRT failed to run the engine")
    return y if y.dtype == torch.float32 else y.float()


def io_buffers(engine: _Engine, x: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The input in the engine's input dtype and an output buffer of the engine's output dtype,
    sized from those dtypes (an fp16 engine output is half the bytes of an fp32 one)."""
    k, _, h, w = x.shape
    x = x.to(engine.input_dtype).contiguous()
    return x, torch.empty((k, 1, scale * h, scale * w), dtype=engine.output_dtype, device=x.device)
