"""What machine and library versions produced a result (recorded in manifests and bench JSON)."""
from __future__ import annotations

import importlib.metadata
import os
import platform
import sys


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, which taskset and containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def may_have_gpu() -> bool:
    """Whether a GPU torch could use may be here, asked without importing torch: on Linux, whether
    a GPU driver's device nodes exist (NVIDIA's, ROCm's, WSL's); elsewhere True except on macOS
    (no CUDA). A True only means "ask torch"; a False is certain: torch would see no GPU either."""
    if sys.platform == "linux":
        return any(os.path.exists(node) for node in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg"))
    return sys.platform != "darwin"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_details() -> dict:
    """Family/model numbers and the widest vector ISA: the model name alone ("AMD EPYC" in a VM)
    does not tell a Zen 3 host from a Zen 4 one, and kernels (ours, OpenCV's) differ between them."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("cpu family", "model", "flags") and key not in fields:
                    fields[key] = value.strip()
                if len(fields) == 3:
                    break
    except OSError:
        return {}
    flags = set(fields.get("flags", "").split())
    isa = next((name for name, flag in (("avx512", "avx512f"), ("avx2", "avx2"), ("sse4.2", "sse4_2")) if flag in flags), "other")
    return {"family": fields.get("cpu family"), "model": fields.get("model"), "vector_isa": isa, "fma": "fma" in flags,
            "bf16": sorted(flags & _BF16_FLAGS)}


# CPU features with bf16 matrix or dot-product instructions, which oneDNN uses for bf16 convolutions.
_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "avx_ne_convert"}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def gpu_description() -> str | None:
    """GPU name, compute capability and driver-side CUDA version, or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return f"{props.name} (sm_{props.major}{props.minor}, CUDA {torch.version.cuda})"


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("vsr", "torch", "numpy", "av", "onnxruntime", "openvino", "tensorrt", "opencv-contrib-python-headless", "opencv-python", "pillow", "ray"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def machine_info() -> dict:
    """CPU model and cores, GPU (or None), OS and library versions."""
    return {
        "cpu": cpu_model(),
        "cpu_details": cpu_details(),
        "cores": os.cpu_count(),
        "gpu": gpu_description(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": library_versions(),
    }
