"""vsr/backends/output_check.py: weights that load but give no picture stop the job at its first frame."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import assert_cli_error
from tests.video_clips import write_clip
from vsr.backends import TorchBackend, build_runner
from vsr.backends.output_check import check_first_output
from vsr.errors import WeightsError
from vsr.models import create_model
from vsr.models.weights import save_weights

CONTRAST = np.add.outer(np.linspace(0.1, 0.9, 12), np.linspace(0, 0.1, 10)).astype(np.float32)[None]


def test_finite_picture_with_contrast_passes_and_ends_the_check():
    out = np.repeat(np.repeat(CONTRAST, 2, 1), 2, 2)
    assert check_first_output(CONTRAST, out) is True


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_output_is_refused(bad):
    out = np.repeat(np.repeat(CONTRAST, 2, 1), 2, 2)
    out[0, 3, 4] = bad
    with pytest.raises(WeightsError, match="NaN or infinite"):
        check_first_output(CONTRAST, out)


@pytest.mark.parametrize("level", [-3.0, 0.0, 0.5, 1.0, 1e9])
def test_flat_output_from_a_picture_with_contrast_is_refused(level):
    with pytest.raises(WeightsError, match="flat"):
        check_first_output(CONTRAST, np.full((1, 24, 20), level, np.float32))


def test_flat_input_defers_the_check_to_a_frame_with_contrast():
    black = np.zeros((1, 12, 10), np.float32)
    assert check_first_output(black, np.zeros((1, 24, 20), np.float32)) is False  # a fade from black is fine
    batch = np.concatenate([black, CONTRAST])
    with pytest.raises(WeightsError, match="flat"):
        check_first_output(batch, np.zeros((2, 24, 20), np.float32))


def white_espcn() -> torch.nn.Module:
    """Finite floating weights of the right shapes whose output is white whatever the input:
    what a float32 bias read as I32 gave (about 1e9), made into a file every other check passes."""
    torch.manual_seed(0)
    model = create_model("espcn", 2)
    with torch.no_grad():
        model.sub_pixel.bias.fill_(1e4)
    return model


def test_every_runner_checks_its_first_output_then_stops_checking():
    runner = build_runner(white_espcn(), TorchBackend())
    with pytest.raises(WeightsError, match="flat"):
        runner.run(CONTRAST)
    good = build_runner(create_model("espcn", 2), TorchBackend())
    good.run(CONTRAST)
    assert good.first_output_ok and (good.name, good.scale) == ("torch", 2)


def test_automatic_backend_choice_is_checked_too():
    runner = build_runner(white_espcn())  # auto: ONNX Runtime or torch, with fallback
    with pytest.raises(WeightsError, match="flat"):
        runner.run(CONTRAST)


@pytest.mark.parametrize("kind", ["video", "image"])
def test_garbage_weights_stop_the_job_with_one_line_and_no_output(tmp_path, cli, kind):
    weights = tmp_path / "white.safetensors"
    save_weights(white_espcn(), weights)
    if kind == "video":
        source, target = write_clip(tmp_path / "in.mkv", frames=6, width=32, height=24), tmp_path / "out.mkv"
    else:
        from PIL import Image

        source, target = tmp_path / "in.png", tmp_path / "out.png"
        Image.fromarray((np.random.default_rng(0).random((12, 10, 3)) * 255).astype(np.uint8)).save(source)
    assert_cli_error(cli("upscale", source, target, "--weights", weights, "--scale", "2"), "flat")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, weights.name])
