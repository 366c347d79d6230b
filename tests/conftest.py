"""Shared fixtures: small weights files and paths to the shared data (skipped where absent)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    # Exported ONNX graphs go to a throwaway cache, not the user's ~/.cache (subprocesses inherit it).
    import tempfile

    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="vsr-test-cache-")
SHARED_DATA = REPO.parent / "shared" / "data"


def cpu_default_engine(bf16_pays: bool | None = None) -> tuple[str, str]:
    """(backend, precision) that ``auto`` runs on this machine's CPU for 8-bit pictures: OpenVINO
    bf16 on a CPU where bf16 pays (where openvino is installed), else ONNX Runtime fp32.
    ``bf16_pays`` is that verdict where a test knows the one its job used (None: this process's)."""
    import importlib.util

    from vsr.backends import bf16_speed

    if bf16_pays is None:
        bf16_pays = bf16_speed.bf16_pays()
    if bf16_pays and importlib.util.find_spec("openvino") is not None:
        return "openvino", "bf16"
    return "onnxruntime", "fp32"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test (with the reason) when it is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not available (the shared data folder sits beside the clone on CI)")
    return path


@pytest.fixture(scope="module")
def espcn():
    """An untrained ESPCN x2 with a fixed seed (backend tests compare runners on it)."""
    import torch

    from vsr.models import create_model

    torch.manual_seed(0)
    return create_model("espcn", 2)


@pytest.fixture(scope="session")
def espcn_weights(tmp_path_factory) -> dict[int, Path]:
    """Untrained but valid ESPCN weights for x2, x3, x4, written with vsr's own writer."""
    import torch

    from vsr.models import create_model
    from vsr.models.weights import save_weights

    folder = tmp_path_factory.mktemp("weights")
    paths = {}
    for scale in (2, 3, 4):
        torch.manual_seed(scale)
        paths[scale] = folder / f"espcn_x{scale}.safetensors"
        save_weights(create_model("espcn", scale), paths[scale])
    return paths


def hide_shipped(monkeypatch, model: str, *scales: int) -> None:
    """Make vsr believe no weights ship for ``model`` at ``scales`` (in this process), to test what a
    user meets where none ship, now that every scale of both models does."""
    import vsr.shipped

    kept = [e for e in vsr.shipped.manifest() if not (e["model"] == model and int(e["scale"]) in scales)]
    monkeypatch.setattr(vsr.shipped, "manifest", lambda: kept)


def run_vsr(*args: str, cwd: Path | None = None, input: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the CLI as a user would (``python -m vsr ...``), capturing bytes."""
    return subprocess.run(
        [sys.executable, "-m", "vsr", *map(str, args)],
        cwd=cwd or REPO,
        input=input,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def assert_one_line_error(result: subprocess.CompletedProcess, fragment: str = "") -> str:
    """The bad-input contract: non-zero exit, one line on stderr, no traceback."""
    stderr = result.stderr.decode()
    assert result.returncode != 0, stderr
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process (faster than a subprocess); returns (exit code, stderr text)."""
    from vsr.cli.main import main

    def run(*args) -> tuple[int, str]:
        code = main([str(a) for a in args])
        return code, capsys.readouterr().err

    return run


def assert_cli_error(outcome: tuple[int, str], fragment: str = "") -> str:
    """In-process version of :func:`assert_one_line_error`."""
    code, stderr = outcome
    assert code != 0, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def local_ray():
    """A local Ray with 2 CPUs for the session (starting one takes seconds), shared by the
    ``--cluster`` tests."""
    ray = pytest.importorskip("ray", reason="the --cluster tests need Ray: pip install 'vsr[cluster]'")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()
