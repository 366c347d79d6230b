"""vsr/backends/tensorrt.py: engine output matches torch fp32; engines cached. Needs a GPU."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vsr.backends import TensorRTBackend, build_runner
from vsr.errors import ConfigError
from vsr.models import create_model

HAVE_TRT = importlib.util.find_spec("tensorrt") is not None
needs_trt = pytest.mark.skipif(
    not (HAVE_TRT and torch.cuda.is_available()),
    reason="TensorRT backend needs an NVIDIA GPU and TensorRT 10 (pip install 'vsr[tensorrt]'); "
    f"here: CUDA {'present' if torch.cuda.is_available() else 'absent'}, tensorrt {'installed' if HAVE_TRT else 'not installed'}",
)


def reference(model, batch: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model.eval().float()(torch.from_numpy(batch)[:, None])[:, 0].numpy()


def test_importing_vsr_backends_does_not_import_tensorrt():
    import subprocess
    import sys

    code = "import sys, vsr.backends, vsr.api; print('tensorrt' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_cpu_is_refused_with_a_reason():
    with pytest.raises(ConfigError, match="NVIDIA GPUs only"):
        TensorRTBackend(device="cpu").check()


@needs_trt
@pytest.mark.parametrize("precision, atol", [("fp32", 1e-4), ("fp16", 2 / 255)])
def test_matches_torch_fp32_and_caches_engine(tmp_path, precision, atol):
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    frames = np.random.default_rng(0).random((3, 37, 53), dtype=np.float32)
    runner = build_runner(model, TensorRTBackend(precision=precision, cache_dir=str(tmp_path)))
    np.testing.assert_allclose(runner.run(frames), reference(model, frames), atol=atol, rtol=0)
    engines = list((tmp_path / "tensorrt").glob("*.engine"))
    assert len(engines) == 1
    again = build_runner(model, TensorRTBackend(precision=precision, cache_dir=str(tmp_path)))
    np.testing.assert_allclose(again.run(frames), reference(model, frames), atol=atol, rtol=0)
    assert list((tmp_path / "tensorrt").glob("*.engine")) == engines  # loaded, not rebuilt
