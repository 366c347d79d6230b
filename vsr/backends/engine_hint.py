"""The one line that tells a user a faster engine would run on this machine, and how to get it.

``--backend auto`` (``selection.py``) silently skips engines that are not installed; that is right
for choosing, but a user on the slow path should hear once that a faster one exists.
"""
from __future__ import annotations

import importlib.util
import os

from . import bf16_speed

# Where an NVIDIA driver announces itself on Linux, whether or not torch can use the GPU.
_NVIDIA_DRIVER = "/proc/driver/nvidia/version"


def faster_engine_hint(runner, driver_file: str = _NVIDIA_DRIVER, bf16_allowed: bool = False) -> str | None:
    """A line naming the faster engine this machine could use but lacks, or None.

    A GPU running eager torch could run TensorRT; a CPU running eager torch could run ONNX
    Runtime; a CPU where bf16 pays running fp32 where bf16 was allowed (8-bit pictures, no
    precision asked) could run OpenVINO in bf16; a machine with an NVIDIA driver but a CPU-only
    torch build could use its GPU at all.
    torch is imported only where there is a driver to ask it about: a CPU run that started without
    it (``cached_start.py``) stays without it.
    """
    device = getattr(runner, "device", "cpu") or "cpu"
    if device.startswith("cuda"):
        if runner.name == "torch" and importlib.util.find_spec("tensorrt") is None:
            return "this GPU runs eager torch; TensorRT is faster there: pip install 'vsr[tensorrt]' (NVIDIA's wheels for your CUDA)"
        return None
    if runner.name == "torch" and importlib.util.find_spec("onnxruntime") is None:
        return "ONNX Runtime is not installed, so the CPU runs eager torch (2-5x slower): pip install onnxruntime"
    if bf16_allowed and runner.precision == "fp32" and bf16_speed.bf16_pays() and importlib.util.find_spec("openvino") is None:
        return "bf16 is faster than fp32 on this CPU, and OpenVINO runs it (about 1.8x faster on a Zen 4): pip install openvino"
    if not os.path.exists(driver_file):
        return None
    import torch

    if not torch.cuda.is_available():
        return (f"this machine has an NVIDIA GPU but torch {torch.__version__} cannot use it: "
                "install a CUDA build of torch (https://pytorch.org/get-started/locally/)")
    return None
