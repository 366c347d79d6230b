"""What a precision name means to torch: its dtype, and fp32 as IEEE fp32 on CUDA.

Shared by the torch backend (``torch_backend.py``) and its CUDA runner (``torch_cuda.py``), which
``tensorrt.py`` also uses: kept below all three, so none of them imports another for it.
"""
from __future__ import annotations

import contextlib

import torch

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@contextlib.contextmanager
def ieee_fp32():
    """TF32 off for cuDNN convolutions and cuBLAS matrix products, restored on exit.

    cuDNN's default allows TF32 (10-bit mantissa inputs) for float32 convolutions on Ampere and
    later: "fp32" would change about 2 % of 8-bit output codes of the shipped x2 weights. Scoped,
    not global, because the process may hold other torch code that wants its own setting (the
    legacy flags are used: torch accepts them alongside the newer ``fp32_precision`` ones).
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = (cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = before
