"""Mixed-precision training (vsr/training/precision.py) and MSRN's fp32 output layer under it."""
import numpy as np
import pytest
import torch

from vsr.errors import ConfigError
from vsr.models import create_model
from vsr.models.weights import save_weights
from vsr.training import TrainConfig, train
from vsr.training.checkpoint import load_checkpoint
from vsr.training.precision import Precision, default_precision
from vsr.training.trainer import _init_from, _loss, train_step
from tests.test_training import make_images


def small_msrn(scale=2):
    torch.manual_seed(0)
    return create_model("msrn", scale, blocks=1, features=8)


def test_bf16_autocast_runs_the_body_in_bf16_but_the_output_layer_in_fp32():
    model = small_msrn()
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = output.dtype  # returns None: a hook's return value would replace the output
        return hook

    model.head.register_forward_hook(record("head"))
    model.reconstruct.register_forward_hook(record("reconstruct"))
    with Precision("bf16", "cpu").autocast():
        out = model(torch.rand(2, 1, 12, 12))
    assert seen == {"head": torch.bfloat16, "reconstruct": torch.float32}
    assert out.dtype == torch.float32
    # Outside autocast the same model is plain fp32 throughout.
    seen.clear()
    assert model(torch.rand(2, 1, 12, 12)).dtype == torch.float32 and seen["head"] == torch.float32


def _train_steps(precision: str, steps: int = 40) -> list[float]:
    model = small_msrn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    runner = Precision(precision, "cpu")
    torch.manual_seed(1)
    hr = torch.nn.functional.avg_pool2d(torch.rand(4, 1, 48, 48), 5, 1, 2)  # smooth: learnable
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    losses = []
    for _ in range(steps):
        losses.append(train_step(model, runner, optimizer, "l1", lr, hr).item())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # master weights stay fp32
    return losses


def test_bf16_training_steps_lower_the_loss_as_fp32_steps_do():
    bf16, fp32 = _train_steps("bf16"), _train_steps("fp32")
    assert bf16[-1] < 0.75 * bf16[0], bf16
    assert abs(bf16[-1] - fp32[-1]) < 0.15 * fp32[-1], (bf16[-1], fp32[-1])


def test_fp16_is_refused_on_the_cpu_and_unknown_precisions_are_one_line_errors():
    with pytest.raises(ConfigError, match="CUDA only"):
        Precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="--precision"):
        Precision("int8", "cpu")


@pytest.mark.parametrize("pays", [True, False])
def test_auto_trains_in_bf16_on_the_cpu_only_where_bf16_pays(monkeypatch, pays):
    from vsr.backends import bf16_speed

    monkeypatch.setattr(bf16_speed, "bf16_pays", lambda: pays)
    assert default_precision("cpu") == ("bf16" if pays else "fp32")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 with a grad scaler trains on CUDA only; no GPU here")
def test_fp16_with_grad_scaler_lowers_the_loss_on_cuda():
    model = small_msrn().cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    precision = Precision("fp16", "cuda")
    hr = torch.nn.functional.avg_pool2d(torch.rand(4, 1, 48, 48, device="cuda"), 3, 1, 1)
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    losses = []
    for _ in range(30):
        with precision.autocast():
            sr = model(lr)
        loss = _loss("l1", sr.float(), hr)
        precision.step(loss, optimizer)
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_a_bf16_run_records_its_precision_and_resumes_in_it(tmp_path):
    make_images(tmp_path / "train", 3, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    cfg = TrainConfig(model="msrn", scale=2, train_dirs=[str(tmp_path / "train")], val_dirs=[str(tmp_path / "val")],
                      out_dir=str(tmp_path / "run"), patch_size=8, batch_size=4, epochs=2, patches_per_epoch=8,
                      lr=1e-3, model_config={"blocks": 1}, precision="bf16", command="vsr train (test)")
    lines = []
    summary = train(cfg, log=lines.append, stop_at=1)
    assert "bf16 on cpu" in lines[0]
    assert summary["config"]["precision"] == "bf16"
    assert np.isfinite(summary["history"][0]["loss"])
    # --resume keeps the run's precision whatever the new command line says.
    cfg.precision = "fp32"
    resumed = train(cfg, resume=str(tmp_path / "run" / "checkpoint.pt"), log=lambda _: None)
    assert resumed["config"]["precision"] == "bf16" and resumed["epochs"] == 2
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert all(t.dtype == torch.float32 for t in state["model"].values())


@pytest.mark.parametrize("scale", [3, 4])
def test_msrn_x3_x4_initialised_from_x2_take_every_body_tensor(tmp_path, scale):
    x2 = small_msrn(2)
    path = tmp_path / "x2.safetensors"
    save_weights(x2, path, half=True)  # shipped MSRN files are fp16
    target = small_msrn(scale)
    loaded = _init_from(target, str(path))
    source, own = x2.state_dict(), target.state_dict()
    # x4 upsamples in two x2 steps, so its first step takes x2's upsampler too; x3's is new.
    new = ("upsample.",) if scale == 3 else ("upsample.2.",)
    shared = [k for k in own if not k.startswith(new)]
    assert loaded == len(shared)
    for key in shared:
        assert own[key].dtype == torch.float32
        assert torch.allclose(own[key], source[key], rtol=2 ** -10, atol=1e-7), key
    assert set(own) - set(shared) == {k for k in own if k.startswith(new)} != set()


def test_a_parked_run_continues_from_its_fp16_weights_with_its_summary(tmp_path):
    """scripts/park_run.py: what a session commits so that the next machine continues the run."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from vsr.models.weights import read_weights

    make_images(tmp_path / "train", 2, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    cfg = TrainConfig(model="msrn", scale=2, train_dirs=[str(tmp_path / "train")], val_dirs=[str(tmp_path / "val")],
                      out_dir=str(tmp_path / "run"), patch_size=8, batch_size=2, epochs=1, patches_per_epoch=4,
                      lr=1e-3, model_config={"blocks": 1}, precision="bf16", command="vsr train (test)")
    summary = train(cfg, log=lambda _: None)
    script = Path(__file__).resolve().parent.parent / "scripts" / "park_run.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), "--into", str(tmp_path / "parked")],
                          capture_output=True, text=True, check=True)
    parked = tmp_path / "parked" / "msrn_x2"
    assert f"best epoch {summary['best_epoch']} of 1" in done.stdout
    assert json.loads((parked / "summary.json").read_text())["history"] == summary["history"]
    tensors, header = read_weights(parked / "best.safetensors")
    assert {t.dtype for t in tensors.values() if t.is_floating_point()} == {torch.float16}
    assert header["command"] == "vsr train (test)"
    # The next run's --init-weights takes every tensor back into fp32, within fp16's precision.
    best, _ = read_weights(tmp_path / "run" / "best.safetensors")
    torch.manual_seed(5)
    target = create_model("msrn", 2, blocks=1)
    assert _init_from(target, str(parked / "best.safetensors")) == len(best)
    for key, value in target.state_dict().items():
        assert value.dtype == torch.float32
        assert torch.allclose(value, best[key], rtol=2 ** -10, atol=1e-7), key


def _load_script(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_run_continued_from_parked_weights_replaces_them_and_keeps_the_whole_recipe(tmp_path):
    """Parking run b (started from parked run a) keeps a's summary in earlier.json, and shipping b
    names a then b; a run that did not start from the parked weights may not replace them."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    make_images(tmp_path / "train", 2, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    parked = tmp_path / "parked" / "msrn_x2"
    script = Path(__file__).resolve().parent.parent / "scripts" / "park_run.py"

    def run(name: str, init: str | None) -> subprocess.CompletedProcess:
        cfg = TrainConfig(model="msrn", scale=2, train_dirs=[str(tmp_path / "train")], val_dirs=[str(tmp_path / "val")],
                          out_dir=str(tmp_path / name), patch_size=8, batch_size=2, epochs=1, patches_per_epoch=4,
                          lr=1e-3, model_config={"blocks": 1}, init_weights=init, command=f"vsr train ({name})")
        train(cfg, log=lambda _: None)
        return subprocess.run([sys.executable, str(script), str(tmp_path / name), "--into", str(tmp_path / "parked")],
                              capture_output=True, text=True)

    assert run("a", None).returncode == 0
    assert not (parked / "earlier.json").exists()
    assert run("b", str(parked / "best.safetensors")).returncode == 0
    assert [e["config"]["command"] for e in json.loads((parked / "earlier.json").read_text())] == ["vsr train (a)"]
    assert json.loads((parked / "summary.json").read_text())["config"]["command"] == "vsr train (b)"
    weights_b = (parked / "best.safetensors").read_bytes()
    stray = run("c", None)
    assert stray.returncode != 0 and "did not start from" in stray.stderr
    assert (parked / "best.safetensors").read_bytes() == weights_b
    assert json.loads((parked / "summary.json").read_text())["config"]["command"] == "vsr train (b)"

    ship_weights = _load_script("ship_weights")
    shipping_b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert [e["config"]["command"] for e in ship_weights.earlier_runs_in(parked, shipping_b)] == ["vsr train (a)"]
    shipping_d = {"config": {"out_dir": str(tmp_path / "d")}}  # a later run, started from parked b
    assert [e["config"]["command"] for e in ship_weights.earlier_runs_in(parked, shipping_d)] == [
        "vsr train (a)", "vsr train (b)"]


def test_a_run_continuing_the_shipped_file_keeps_the_runs_its_record_holds(tmp_path):
    """ship_weights --continues-shipped replaces <model>_x<scale>.training.json: the runs it recorded
    (its earlier_runs, then its own summary) are read back, oldest first, to go in front of the new."""
    import json

    ship_weights = _load_script("ship_weights")
    record = tmp_path / "msrn_x2.training.json"
    assert ship_weights.runs_of_shipped(record) == []
    a, b = {"config": {"out_dir": "a"}, "epochs": 5}, {"config": {"out_dir": "b"}, "epochs": 20}
    record.write_text(json.dumps(a))
    assert ship_weights.runs_of_shipped(record) == [a]
    record.write_text(json.dumps({**b, "earlier_runs": [a]}))
    assert ship_weights.runs_of_shipped(record) == [a, b]


def test_a_recipe_starting_from_a_shipped_file_pins_that_file_by_its_sha256():
    """MSRN x3 starts from the shipped x2 weights: the x3 entry names that file and the sha256 the
    manifest holds for it, since a later x2 shipping replaces the file under the same name."""
    ship_weights = _load_script("ship_weights")
    entries = [{"file": "msrn_x2.safetensors", "sha256": "ab" * 32}]

    def first_run(init):
        return {"config": {"init_weights": init}}

    assert ship_weights.shipped_start(first_run("vsr/weights/msrn_x2.safetensors"), entries) == {
        "file": "msrn_x2.safetensors", "sha256": "ab" * 32}
    assert ship_weights.shipped_start(first_run(None), entries) is None
    assert ship_weights.shipped_start(first_run("training/msrn_x3/best.safetensors"), entries) is None
    with pytest.raises(SystemExit, match="does not list"):
        ship_weights.shipped_start(first_run("vsr/weights/msrn_x4.safetensors"), entries)


def test_gpu_train_sizes_each_schedule_to_its_budget_with_a_command_vsr_train_accepts():
    """scripts/gpu_train.py, short of a GPU: the commands it would start, checked by vsr's own parser."""
    import argparse
    from pathlib import Path

    from vsr.cli.main import build_parser

    gpu_train = _load_script("gpu_train")
    args = argparse.Namespace(device="cuda", precision="bf16", batch_size=32, lr=3e-4, workers=4, data=Path("pack"))
    command = gpu_train.train_command(args, 3, seconds=210, steps_per_second=10.0, init="x2.safetensors", out=Path("runs/x3"))
    assert command[1:4] == ["-m", "vsr", "train"]
    parsed = build_parser().parse_args(command[3:])
    steps_per_epoch = gpu_train.SECONDS_PER_EPOCH * 10
    assert parsed.patches_per_epoch == steps_per_epoch * 32
    assert parsed.epochs * steps_per_epoch / 10.0 == pytest.approx(210, rel=0.1)  # the budget, in whole epochs
    assert (parsed.model, parsed.scale, parsed.device, parsed.init_weights) == ("msrn", 3, "cuda", "x2.safetensors")
    assert parsed.train_dir == ["pack/T91", "pack/General100", "pack/BSD200"] and parsed.val_dir == ["pack/Set5"]


def test_the_mean_of_runs_from_the_parked_weights_replaces_them_and_ships_with_every_command(tmp_path):
    """scripts/average_runs.py: runs b and c, both from parked run a, averaged into bc. bc holds the
    element-wise mean of their last weights, parks over b (one of its runs) keeping a as earlier, and
    its recipe names b's command, c's, then the averaging; runs from different weights, or from
    scratch (each from its own random weights), or with an unreadable weights file, are refused."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from vsr.models.weights import read_weights

    make_images(tmp_path / "train", 2, 48, 0)
    make_images(tmp_path / "val", 1, 32, 1)
    scripts = Path(__file__).resolve().parent.parent / "scripts"
    parked = tmp_path / "parked" / "msrn_x2"

    def run(name: str, init: str | None, seed: int) -> None:
        cfg = TrainConfig(model="msrn", scale=2, train_dirs=[str(tmp_path / "train")], val_dirs=[str(tmp_path / "val")],
                          out_dir=str(tmp_path / name), patch_size=8, batch_size=2, epochs=1, patches_per_epoch=4,
                          lr=1e-3, model_config={"blocks": 1}, init_weights=init, seed=seed, command=f"vsr train ({name})")
        train(cfg, log=lambda _: None)

    def script(name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(scripts / f"{name}.py"), *args], capture_output=True, text=True)

    run("a", None, 0)
    assert script("park_run", str(tmp_path / "a"), "--into", str(tmp_path / "parked")).returncode == 0
    run("b", str(parked / "best.safetensors"), 1)
    assert script("park_run", str(tmp_path / "b"), "--into", str(tmp_path / "parked")).returncode == 0
    run("c", str(parked / "best.safetensors"), 2)
    run("stray", None, 3)
    run("stray2", None, 5)

    refused = script("average_runs", str(tmp_path / "b"), str(tmp_path / "stray"), "--out", str(tmp_path / "no"))
    assert refused.returncode != 0 and "same weights" in refused.stderr and not (tmp_path / "no").exists()
    from_scratch = script("average_runs", str(tmp_path / "stray"), str(tmp_path / "stray2"), "--out", str(tmp_path / "no"))
    assert from_scratch.returncode != 0 and "from scratch" in from_scratch.stderr and not (tmp_path / "no").exists()
    # Every run's file is read as the model it claims to be, not only the first: a cut-off one is refused.
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "summary.json").write_bytes((tmp_path / "c" / "summary.json").read_bytes())
    (tmp_path / "cut" / "last.safetensors").write_bytes((tmp_path / "c" / "last.safetensors").read_bytes()[:500])
    cut = script("average_runs", str(tmp_path / "b"), str(tmp_path / "cut"), "--out", str(tmp_path / "no"))
    assert cut.returncode != 0 and "cut/last.safetensors" in cut.stderr and not (tmp_path / "no").exists()
    done = script("average_runs", str(tmp_path / "b"), str(tmp_path / "c"), "--out", str(tmp_path / "bc"))
    assert done.returncode == 0, done.stderr
    mean, header = read_weights(tmp_path / "bc" / "best.safetensors")
    b, c = read_weights(tmp_path / "b" / "last.safetensors")[0], read_weights(tmp_path / "c" / "last.safetensors")[0]
    assert any(not torch.equal(b[k], c[k]) for k in b)  # two seeds: two different runs
    for key in b:
        assert torch.allclose(mean[key], (b[key] + c[key]) / 2), key
    assert header["command"].startswith("python scripts/average_runs.py")

    summary = json.loads((tmp_path / "bc" / "summary.json").read_text())
    ship_weights = _load_script("ship_weights")
    assert ship_weights.run_commands(summary) == ["vsr train (b)", "vsr train (c)", header["command"]]
    assert summary["epochs"] == 2 and f"{summary['best_val_psnr']:.3f}" in done.stdout

    parking = script("park_run", str(tmp_path / "bc"), "--into", str(tmp_path / "parked"))
    assert parking.returncode == 0, parking.stderr
    assert [e["config"]["command"] for e in json.loads((parked / "earlier.json").read_text())] == ["vsr train (a)"]
    assert json.loads((parked / "summary.json").read_text())["config"]["out_dir"] == str(tmp_path / "bc")
    # A later run from the mean's own file (not the parked fp16 copy) continues the parked record too.
    run("d", str(tmp_path / "bc" / "best.safetensors"), 4)
    assert script("park_run", str(tmp_path / "d"), "--into", str(tmp_path / "parked")).returncode == 0
    assert [e["config"]["command"] for e in json.loads((parked / "earlier.json").read_text())] == [
        "vsr train (a)", header["command"]]
