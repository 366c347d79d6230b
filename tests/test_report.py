"""The closing report (vsr/report.py): every job ends with one line of facts on stderr."""
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from tests.conftest import cpu_default_engine, run_vsr
from tests.video_clips import write_clip
from vsr.backends.engine_hint import faster_engine_hint
from vsr.report import JobReport, Reporter

LINE = re.compile(
    r"^vsr: wrote (?P<out>\S+): (?P<fin>\d+) -> (?P<fout>\d+) frames, (?P<sin>\d+x\d+) -> (?P<sout>\d+x\d+), "
    r"(?P<s>[\d.]+) s, (?P<fps>[\d.]+) fps; (?P<model>\w+) x(?P<scale>\d) on (?P<backend>\w+) (?P<device>\S+) (?P<precision>\w+); "
    r"(?P<encoder>\S+) (?P<settings>.*)$"
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "in.mp4", frames=6, width=40, height=32, audio="aac")


def _last_line(stderr: bytes) -> str:
    return [line for line in stderr.decode().splitlines() if line.strip()][-1]


@pytest.mark.parametrize("quiet", [False, True], ids=["plain", "quiet"])
def test_a_video_job_ends_with_the_report_line_even_when_quiet(tmp_path, clip, quiet):
    out, facts = tmp_path / "out.mp4", tmp_path / "report.json"
    result = run_vsr("upscale", clip, out, "--report-json", facts, *(["--quiet"] if quiet else []))
    assert result.returncode == 0, result.stderr.decode()
    line = _last_line(result.stderr)
    m = LINE.match(line)
    assert m, line
    assert m["out"] == str(out) and m["fin"] == m["fout"] == "6"
    assert (m["sin"], m["sout"]) == ("40x32", "80x64")
    assert float(m["s"]) > 0 and float(m["fps"]) > 0
    assert (m["model"], m["scale"]) == ("espcn", "2")
    # The default install has ONNX Runtime and (on x86) OpenVINO: the automatic choice on a CPU
    # runs OpenVINO bf16 where the CPU has bf16 instructions, else ONNX Runtime fp32.
    backend, precision = cpu_default_engine()
    assert (m["backend"], m["device"], m["precision"]) == (backend, "cpu", precision)
    assert m["encoder"] == "libx264" and "crf=23" in m["settings"] and "preset=medium" in m["settings"]
    assert "pix_fmt=yuv420p" in m["settings"]
    report = json.loads(facts.read_text())
    assert report["line"] == line.removeprefix("vsr: ")
    assert report["frames_in"] == report["frames_out"] == 6
    assert report["size_in"] == [40, 32] and report["size_out"] == [80, 64]
    assert (report["backend"], report["device"], report["precision"]) == (backend, "cpu", precision)
    assert report["encoder_settings"] == {"crf": "23", "preset": "medium", "pix_fmt": "yuv420p"}
    assert report["fps"] == pytest.approx(6 / report["seconds"])
    assert set(report["stage_ms_per_frame"]) == {"decode", "to_tensor", "sr", "to_frame", "encode"}
    assert report["bounded_by"] in ("decode", "SR", "encode")


def test_verbose_adds_stage_timings_after_the_report(tmp_path, clip):
    result = run_vsr("upscale", clip, tmp_path / "out.mkv", "-v", "--crf", "30", "--preset", "fast")
    assert result.returncode == 0, result.stderr.decode()
    lines = [line for line in result.stderr.decode().splitlines() if line.strip()]
    assert LINE.match(lines[-3]) and "crf=30 preset=fast" in lines[-3]
    assert re.match(r"vsr: stages: decode [\d.]+ ms/frame .*, SR [\d.]+ ms/frame, encode [\d.]+ ms/frame", lines[-2]), lines[-2]
    assert re.match(r"vsr: (decode|SR|encode) bounds the run: [\d.]+ ms/frame end to end", lines[-1]), lines[-1]


def test_image_and_folder_jobs_report_images_sizes_and_backend(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(folder / name)
    one = run_vsr("upscale", folder / "a.png", tmp_path / "a_x2.png", "--backend", "torch", "--quiet")
    assert one.returncode == 0, one.stderr.decode()
    line = _last_line(one.stderr)
    assert re.match(r"vsr: wrote \S+a_x2\.png: 1 -> 1 image, 12x10 -> 24x20, [\d.]+ s, [\d.]+ images/s; espcn x2 on torch cpu fp32; png$", line), line
    many = run_vsr("upscale", folder, tmp_path / "out", "--scale", "3", "--report-json", tmp_path / "r.json")
    assert many.returncode == 0, many.stderr.decode()
    line = _last_line(many.stderr)
    backend, precision = cpu_default_engine()  # 8-bit PNGs
    assert re.match(rf"vsr: wrote \S+out: 2 -> 2 images, 12x10 -> 36x30, .*; espcn x3 on {backend} cpu {precision}; png$", line), line
    assert json.loads((tmp_path / "r.json").read_text())["kind"] == "images"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_folder_job_drives_one_progress_bar_and_quiet_hides_it():
    terminal = _Terminal()
    progress = Reporter(stream=terminal).counter()
    for done in (1, 2, 3):
        progress(done, 3, "x.png")
    assert "3/3" in terminal.getvalue() and "image" in terminal.getvalue()
    silent = _Terminal()
    progress = Reporter(stream=silent, quiet=True).counter()
    for done in (1, 2, 3):
        progress(done, 3)
    assert silent.getvalue() == ""


def test_the_bounding_stage_is_the_busiest_thread_and_the_json_file_is_complete(tmp_path):
    report = JobReport(kind="video", output="o.mkv", frames_in=10, frames_out=10, seconds=2.0, model="espcn", scale=3,
                       backend="torch", device="cpu", precision="bf16", size_in=(8, 6), size_out=(24, 18), encoder="libx265",
                       encoder_settings={"crf": "28"},
                       stage_s={"decode": 0.5, "to_tensor": 0.9, "sr": 1.2, "to_frame": 0.1, "encode": 0.2})
    assert report.bounding_thread() == "decode"  # 1.4 s in the decode thread beats 1.2 s of SR
    assert report.line() == "wrote o.mkv: 10 -> 10 frames, 8x6 -> 24x18, 2.00 s, 5.0 fps; espcn x3 on torch cpu bf16; libx265 crf=28"
    stream = io.StringIO()
    Reporter(stream=stream, verbose=True, json_path=tmp_path / "r.json").finish(report)
    assert stream.getvalue().splitlines()[1] == (
        "vsr: stages: decode 140.0 ms/frame (demux+decode 50.0 + planes 90.0), SR 120.0 ms/frame, encode 30.0 ms/frame "
        "(chroma+frame 10.0 + encode+mux 20.0)"
    )
    facts = json.loads((tmp_path / "r.json").read_text())
    assert facts["bounded_by"] == "decode" and facts["fps"] == 5.0 and facts["stage_ms_per_frame"]["sr"] == pytest.approx(120.0)
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left


def test_an_unwritable_report_file_is_one_line(tmp_path):
    from vsr.errors import OutputError

    report = JobReport(kind="image", output="o.png", frames_in=1, frames_out=1, seconds=0.1, model="espcn", scale=2)
    with pytest.raises(OutputError, match="cannot write the report"):
        Reporter(stream=io.StringIO(), json_path=tmp_path / "missing" / "r.json").finish(report)


class _Runner:
    def __init__(self, name, device):
        self.name, self.device = name, device


def test_the_faster_engine_hint_names_what_is_missing_and_how_to_get_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("onnxruntime", "tensorrt") else real(name, *a))
    hint = faster_engine_hint(_Runner("torch", "cpu"), driver_file=str(tmp_path / "none"))
    assert "ONNX Runtime is not installed" in hint and "pip install onnxruntime" in hint
    hint = faster_engine_hint(_Runner("torch", "cuda:0"))
    assert "TensorRT" in hint and "pip install 'vsr[tensorrt]'" in hint
    monkeypatch.setattr(importlib.util, "find_spec", real)
    assert faster_engine_hint(_Runner("onnxruntime", "cpu"), driver_file=str(tmp_path / "none")) is None
    driver = tmp_path / "version"
    driver.write_text("NVRM version: 550\n")
    import torch

    if not torch.cuda.is_available():
        hint = faster_engine_hint(_Runner("onnxruntime", "cpu"), driver_file=str(driver))
        assert "NVIDIA GPU" in hint and "CUDA build of torch" in hint


def test_the_library_reports_through_the_reporter_it_is_given(tmp_path, espcn, monkeypatch):
    # The video bar and the automatic choice's fall-back line go where the CLI says, not to stderr.
    import torch

    from tests.video_clips import RepeatRunner
    from vsr.backends import build_runner, make_backend
    from vsr.backends.onnxruntime import OnnxRuntimeBackend
    from vsr.video import upscale_video

    terminal = _Terminal()
    reporter = Reporter(stream=terminal)
    clip = write_clip(tmp_path / "a.mkv", frames=6)
    upscale_video(clip, tmp_path / "b.mkv", RepeatRunner(2), warn=reporter.warn,
                  progress_bar=lambda total: reporter.progress(total, unit="frame"))
    assert "6/6" in terminal.getvalue() and "frame" in terminal.getvalue()

    def broken(self, model):
        raise RuntimeError("simulated: no session")

    monkeypatch.setattr(OnnxRuntimeBackend, "build", broken)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("vsr.backends.bf16_speed.bf16_pays", lambda: False)  # auto: ONNX Runtime, then torch
    stream = io.StringIO()
    runner = build_runner(espcn, make_backend("auto", cache_dir=str(tmp_path)), warn=Reporter(stream=stream).warn)
    assert runner.name == "torch"
    (line,) = stream.getvalue().splitlines()
    assert line.startswith("vsr: warning: onnxruntime on cpu (fp32) failed (simulated: no session); using torch on cpu")


def test_a_rate_under_one_frame_a_second_is_not_printed_as_zero():
    slow = JobReport(kind="video", output="o.mp4", frames_in=2, frames_out=2, seconds=43.71, model="msrn", scale=2)
    assert ", 43.71 s, 0.046 fps; msrn x2" in slow.line()
    one = JobReport(kind="images", output="d", frames_in=3, frames_out=3, seconds=3.0, model="espcn", scale=2)
    assert ", 3.00 s, 1.0 images/s; espcn x2" in one.line()
