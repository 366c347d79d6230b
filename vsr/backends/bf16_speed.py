"""Whether bf16 convolutions pay on this CPU: run fast enough to be worth their rounding.

The flags say whether a CPU has bf16 instructions; only a measurement says whether they pay.
AMX does (its tiles multiply bf16 matrices several times faster than fp32). AVX512-BF16 alone
did on a 2-core AMD EPYC (MSRN x2 2.4x faster in torch, 2.6x in OpenVINO) and did not on a 2-core
Intel Xeon without AMX (MSRN 1.5x slower in torch, ESPCN 1.4x slower in OpenVINO, training 1.3x
slower). So on such a CPU a short torch probe decides, once per CPU and torch version: its
verdict is cached, so a later start neither measures again nor imports torch to know it.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import math
import time

from .. import sysinfo
from ..files import write_json_atomically
from .cache import cache_dir

# bf16 must be this much faster than fp32 to be chosen: it costs a little quality (about
# 0.02-0.04 dB on Set5), which a few percent of speed do not buy.
PAYS_ABOVE = 1.2
_PROBE_REPEATS = 7
_MAX_CACHE_BYTES = 4096


def cpu_has_bf16() -> bool:
    """Whether the CPU has bf16 dot-product or matrix instructions (AVX512-BF16, AMX) rather than
    emulating bf16 through fp32 conversions."""
    return bool(sysinfo.cpu_flags() & {"avx512_bf16", "amx_bf16"})


def verdict_by_flags() -> bool | None:
    """What the flags alone say: True with AMX, False without AVX512-BF16, None where AVX512-BF16
    alone leaves it to the probe."""
    flags = sysinfo.cpu_flags()
    if "amx_bf16" in flags:
        return True
    if "avx512_bf16" not in flags:
        return False
    return None


@functools.cache
def bf16_pays() -> bool:
    """bf16 convolutions are at least PAYS_ABOVE x faster than fp32 on this CPU: AMX always,
    AVX512-BF16 alone where the probe (cached) measured it."""
    by_flags = verdict_by_flags()
    # Not known_bf16_verdict(): where the flags do not decide, cached_bf16_speedup reads the cache
    # itself (and measures only where it has none), so the cache file is read once.
    return cached_bf16_speedup() >= PAYS_ABOVE if by_flags is None else by_flags


def known_bf16_verdict() -> bool | None:
    """bf16_pays without measuring: from the flags or an earlier probe's cached result; None where
    only the probe could tell. For text such as --help, which should not cost a timing."""
    by_flags = verdict_by_flags()
    if by_flags is not None:
        return by_flags
    speedup = _read_cached_speedup()
    return None if speedup is None else speedup >= PAYS_ABOVE


def cached_bf16_speedup() -> float:
    """fp32 time / bf16 time of the probe on this CPU, from the cache or measured (and cached)."""
    speedup = _read_cached_speedup()
    if speedup is not None:
        return speedup
    speedup = measure_bf16_speedup()
    try:
        write_json_atomically(_cache_path(), {"speedup": speedup, "cpu": sysinfo.cpu_model(), "torch": _torch_version()},
                              indent=None)
    except OSError:
        pass  # a cache that cannot be written (read-only home) costs the next run 0.5 s, nothing else
    return speedup


def _read_cached_speedup() -> float | None:
    """The cached probe result, or None when there is none or it is not a sane one."""
    try:
        path = _cache_path()
        # A cache file is input like any other: small, and a finite positive number, or measured anew.
        if path.stat().st_size <= _MAX_CACHE_BYTES:
            speedup = json.loads(path.read_text())["speedup"]
            if isinstance(speedup, float) and math.isfinite(speedup) and speedup > 0:
                return speedup
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _cache_path():
    return cache_dir(None, "probes") / f"bf16-speedup-{_probe_key()}.json"


def measure_bf16_speedup(threads: int | None = None) -> float:
    """Time one 64-channel 3x3 convolution (MSRN's core) on a CIF frame's luma (176x144) in fp32
    and in bf16, best of a few runs each after a warm-up; about 0.5 s on 2 cores. A smaller frame
    measured 1.0-1.2x on the Xeon where whole models ran 1.4-1.5x slower in bf16: too close to
    the bar to decide by."""
    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        frame = torch.rand(1, 64, 144, 176, generator=generator)
        weight = torch.rand(64, 64, 3, 3, generator=generator) - 0.5
        inputs = {dtype: (frame.to(dtype), weight.to(dtype)) for dtype in (torch.float32, torch.bfloat16)}
        timings = dict.fromkeys(inputs, math.inf)
        with torch.inference_mode():
            for x, w in inputs.values():
                torch.nn.functional.conv2d(x, w, padding=1)  # warm-up: oneDNN picks and builds its kernel
            # Alternating, so that a load beside the probe (another job) weighs on both alike.
            for _ in range(_PROBE_REPEATS):
                for dtype, (x, w) in inputs.items():
                    start = time.perf_counter()
                    torch.nn.functional.conv2d(x, w, padding=1)
                    timings[dtype] = min(timings[dtype], time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous_threads)
    return timings[torch.float32] / timings[torch.bfloat16]


def _torch_version() -> str:
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


@functools.cache
def _probe_key() -> str:
    """What changes the verdict: the CPU (model name, family/model numbers, bf16 flags) and the
    torch build whose kernels were timed. Fixed for a process, and it costs a package-metadata
    lookup (about 1 ms), which every subcommand's --precision help text would otherwise repeat."""
    details = sysinfo.cpu_details()
    parts = [sysinfo.cpu_model(), str(details.get("family")), str(details.get("model")),
             ",".join(details.get("bf16", [])), _torch_version()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
