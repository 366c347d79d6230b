"""`vsr upscale` on still images, run as a user runs it, including every bad input."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_cli_error, assert_one_line_error, hide_shipped, run_vsr
from vsr.imaging.image_io import Image as VsrImage, read_image, write_image


def write(path, pixels):
    write_image(VsrImage(pixels), path)
    return path


CASES = {
    "one_pixel.png": np.array([[[200, 10, 30]]], np.uint8),
    "odd.png": np.random.default_rng(0).integers(0, 256, (13, 7, 3), dtype=np.uint8),
    "grey.png": np.random.default_rng(1).integers(0, 256, (9, 11, 1), dtype=np.uint8),
    "rgba.png": np.random.default_rng(2).integers(0, 256, (6, 5, 4), dtype=np.uint8),
    "deep.png": np.random.default_rng(3).integers(0, 65536, (5, 6, 3), dtype=np.uint16),
    "deep_grey.png": np.random.default_rng(4).integers(0, 65536, (5, 6, 1), dtype=np.uint16),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_image_is_upscaled_exactly_scale_times_keeping_depth_and_channels(tmp_path, espcn_weights, cli, name):
    src = write(tmp_path / name, CASES[name])
    out = tmp_path / f"out_{name}"
    code, err = cli("upscale", src, out, "--scale", "3", "--weights", espcn_weights[3], "--quiet")
    assert code == 0, err
    up = read_image(out).pixels
    h, w, c = CASES[name].shape
    assert up.shape == (3 * h, 3 * w, c)
    assert up.dtype == CASES[name].dtype


def test_alpha_is_interpolated_not_passed_through_the_model(tmp_path, espcn_weights, cli):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[:, :, 3] = 77  # constant alpha must stay exactly constant under bicubic
    src = write(tmp_path / "a.png", rgba)
    assert cli("upscale", src, tmp_path / "b.png", "--scale", "2", "--weights", espcn_weights[2])[0] == 0
    assert np.all(read_image(tmp_path / "b.png").pixels[:, :, 3] == 77)


@pytest.mark.parametrize("ext", ["jpg", "bmp", "tiff", "webp"])
def test_other_formats_read_and_write(tmp_path, espcn_weights, cli, ext):
    pixels = np.random.default_rng(5).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    src = tmp_path / f"in.{ext}"
    Image.fromarray(pixels).save(src)
    out = tmp_path / f"out.{ext}"
    code, err = cli("upscale", src, out, "--scale", "2", "--weights", espcn_weights[2])
    assert code == 0, err
    assert Image.open(out).size == (24, 20)


def test_folder_in_folder_out_keeps_names_as_png(tmp_path, espcn_weights, cli):
    src = tmp_path / "in"
    src.mkdir()
    write(src / "a.png", CASES["odd.png"])
    Image.fromarray(CASES["odd.png"]).save(src / "b.jpg")
    (src / "notes.txt").write_text("not an image, ignored")
    code, err = cli("upscale", src, tmp_path / "out", "--scale", "2", "--weights", espcn_weights[2])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    # A folder whose parents do not exist yet is made, parents and all.
    code, err = cli("upscale", src, tmp_path / "new" / "deeper" / "out", "--scale", "2", "--weights", espcn_weights[2])
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "new" / "deeper" / "out").iterdir()) == ["a.png", "b.png"]
    assert sorted(p.name for p in (tmp_path / "new" / "deeper").iterdir()) == ["out"]  # no lock file left


def test_upscaled_flat_image_stays_flat_in_colour(tmp_path, espcn_weights, cli):
    # A flat colour image: chroma is exact under bicubic; Y passes the net, so allow its error.
    flat = np.zeros((9, 9, 3), np.uint8) + np.array([180, 90, 40], np.uint8)
    cli("upscale", write(tmp_path / "f.png", flat), tmp_path / "g.png", "--scale", "2", "--weights", espcn_weights[2])
    up = read_image(tmp_path / "g.png").pixels.astype(int)
    spread = up.reshape(-1, 3).max(0) - up.reshape(-1, 3).min(0)
    assert spread.max() <= 2 * int(np.abs(up[4, 4] - flat[0, 0]).max()) + 2


def no_leftovers(folder, expected):
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)


def test_bad_inputs_give_one_line_and_leave_nothing(tmp_path, espcn_weights, cli):
    w2 = espcn_weights[2]
    good = write(tmp_path / "good.png", CASES["odd.png"])
    (tmp_path / "text.png").write_text("hello, not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "truncated.png").write_bytes(good.read_bytes()[:60])
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 50)
    before = sorted(p.name for p in tmp_path.iterdir())
    out = tmp_path / "out.png"

    assert_one_line_error(run_vsr("upscale", tmp_path / "text.png", out, "--weights", w2), "not an image")
    assert_cli_error(cli("upscale", tmp_path / "empty.png", out, "--weights", w2), "empty")
    assert_cli_error(cli("upscale", tmp_path / "truncated.png", out, "--weights", w2), "truncated.png")
    assert_cli_error(cli("upscale", tmp_path / "missing.png", out, "--weights", w2), "no such file")
    assert_cli_error(cli("upscale", good, out, "--weights", tmp_path / "corrupt.safetensors"), "not a valid safetensors")
    assert_cli_error(cli("upscale", good, out, "--weights", tmp_path / "absent.safetensors"), "not found")
    assert_cli_error(cli("upscale", good, out, "--scale", "3", "--weights", w2), "scale x2, not x3")
    assert_cli_error(cli("upscale", good, tmp_path / "nodir" / "o.png", "--weights", w2), "does not exist")
    assert_cli_error(cli("upscale", good, tmp_path / "o.xyz", "--weights", w2), "extension")
    no_leftovers(tmp_path, before)
    # An existing output is refused without -y and replaced with it.
    assert_cli_error(cli("upscale", good, good, "--weights", w2), "already exists")
    assert cli("upscale", good, tmp_path / "copy.png", "--weights", w2)[0] == 0
    assert cli("upscale", good, tmp_path / "copy.png", "-y", "--weights", w2)[0] == 0


def test_msrn_without_weights_is_one_line_with_the_way_out(tmp_path, monkeypatch, cli):
    hide_shipped(monkeypatch, "msrn", 4)
    good = write(tmp_path / "good.png", CASES["odd.png"])
    line = assert_cli_error(cli("upscale", good, tmp_path / "o.png", "--model", "msrn", "--scale", "4"), "msrn weights")
    assert "vsr train --model msrn --scale 4" in line
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output_directory(tmp_path, espcn_weights, cli):
    import os

    if os.geteuid() == 0:
        locked = Path("/sys")  # root ignores permission bits; sysfs refuses new files even to root
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
    good = write(tmp_path / "good.png", CASES["odd.png"])
    assert_cli_error(cli("upscale", good, locked / "o.png", "--weights", espcn_weights[2]), "not writable")


def test_an_output_that_is_the_input_is_refused_even_with_y(tmp_path, espcn_weights, cli):
    src = write(tmp_path / "p.png", CASES["odd.png"])
    before = src.read_bytes()
    assert_cli_error(cli("upscale", src, src, "-y", "--weights", espcn_weights[2]), "is the input")
    assert_cli_error(cli("upscale", src, tmp_path / "." / "p.png", "-y", "--weights", espcn_weights[2]), "is the input")
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


@pytest.mark.parametrize("overwrite", [[], ["-y"]])
def test_a_folder_whose_inputs_collide_is_refused_before_any_work(tmp_path, espcn_weights, cli, overwrite):
    src = tmp_path / "in"
    src.mkdir()
    write(src / "a.png", CASES["odd.png"])
    Image.fromarray(CASES["odd.png"]).save(src / "a.jpg")  # would also become a.png
    write(src / "b.png", CASES["odd.png"])
    line = assert_cli_error(cli("upscale", src, tmp_path / "out", *overwrite, "--weights", espcn_weights[2]), "a.png")
    assert "a.jpg and a.png" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # not even the output folder
    # Into the input folder itself: b.png would replace its own input.
    (src / "a.jpg").unlink()
    before = {p.name: p.read_bytes() for p in src.iterdir()}
    assert_cli_error(cli("upscale", src, src, *overwrite, "--weights", espcn_weights[2]), "is an input")
    assert {p.name: p.read_bytes() for p in src.iterdir()} == before


class InterruptingRunner:
    """A real runner that is interrupted (as by Ctrl-C or kill) on its call number ``after + 1``."""

    def __init__(self, runner, after):
        self.runner, self.after, self.calls = runner, after, 0
        self.scale = runner.scale

    def run(self, batch, out=None):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.runner.run(batch)


def test_an_interrupted_folder_job_resumes_where_it_stopped(tmp_path, espcn_weights, cli):
    from vsr.api import prepare_runner
    from vsr.image_job import RECORD_NAME, upscale_image_folder

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(7)
    for name in "abcde":
        write(src / f"{name}.png", rng.integers(0, 256, (9, 8, 3), dtype=np.uint8))
    weights = espcn_weights[2]
    code, err = cli("upscale", src, tmp_path / "whole", "--weights", weights)
    assert code == 0, err
    # The settings the command line records, so that its rerun may resume this run.
    settings = {"model": "espcn", "weights": str(Path(weights).resolve()), "precision": None}
    out = tmp_path / "out"
    runner = InterruptingRunner(prepare_runner("espcn", 2, weights), after=2)
    with pytest.raises(KeyboardInterrupt):
        upscale_image_folder(src, out, runner, settings=settings)
    assert sorted(p.name for p in out.iterdir()) == [RECORD_NAME, "a.png", "b.png"]  # no partial c.png

    # A finished output that changed since is not taken as done: without -y it is refused.
    b = (out / "b.png").read_bytes()
    (out / "b.png").write_bytes(b + b"\0")
    assert_cli_error(cli("upscale", src, out, "--weights", weights), "b.png: already exists")
    (out / "b.png").write_bytes(b)

    code, err = cli("upscale", src, out, "--weights", weights)
    assert code == 0, err
    assert "resuming an interrupted job: 2 of 5 images were done before (checked), 3 to do" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    for name in "abcde":
        assert (out / f"{name}.png").read_bytes() == (tmp_path / "whole" / f"{name}.png").read_bytes()
    # Done: the record is gone, so a third run is a new job, refused without -y.
    assert_cli_error(cli("upscale", src, out, "--weights", weights), "already exists")


def test_a_resume_with_other_settings_is_not_a_resume(tmp_path, espcn_weights, cli):
    from vsr.api import prepare_runner
    from vsr.image_job import upscale_image_folder

    src = tmp_path / "in"
    src.mkdir()
    for name in "ab":
        write(src / f"{name}.png", CASES["odd.png"])
    out = tmp_path / "out"
    runner = InterruptingRunner(prepare_runner("espcn", 2, espcn_weights[2]), after=1)
    with pytest.raises(KeyboardInterrupt):
        upscale_image_folder(src, out, runner, settings={"model": "espcn", "weights": "other.safetensors", "precision": None})
    assert_cli_error(cli("upscale", src, out, "--weights", espcn_weights[2]), "a.png: already exists")


def test_a_folder_named_like_a_video_says_it_is_a_folder(tmp_path, espcn_weights, cli):
    (tmp_path / "clip.mp4").mkdir()
    line = assert_cli_error(cli("upscale", tmp_path / "clip.mp4", tmp_path / "out.mp4", "--weights", espcn_weights[2]), "no images found")
    assert line.endswith("clip.mp4: no images found (it is a folder, not a video file)")
