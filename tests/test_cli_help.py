"""`--help` that teaches: real defaults shown once, examples everywhere, `vsr --version`, and
`vsr train`'s defaults equal to the recipe of the shipped weights."""
import argparse
import importlib.metadata
import json
import re
import shlex

import pytest

import vsr
from tests.conftest import REPO, run_vsr
from vsr.cli.main import build_parser


def _parsers():
    """Every (name, parser) of the command line: vsr, each command, each bench kind."""
    found = [("vsr", build_parser())]
    i = 0
    while i < len(found):
        name, parser = found[i]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                found += [(f"{name} {sub}", p) for sub, p in action.choices.items()]
        i += 1
    return found


PARSERS = _parsers()


def test_every_command_is_covered():
    names = {name for name, _ in PARSERS}
    assert {"vsr upscale", "vsr train", "vsr eval", "vsr bench quality", "vsr bench speed", "vsr export", "vsr preview", "vsr models"} <= names


@pytest.mark.parametrize("name,parser", PARSERS, ids=[n for n, _ in PARSERS])
def test_help_states_each_default_once_never_none_and_ends_with_examples(name, parser):
    text = parser.format_help()
    flat = " ".join(text.split())
    assert "(default: None)" not in flat and "(default: False)" not in flat, name
    assert not re.search(r"\(default[^()]*\)\s*\(default", flat), name
    for action in parser._actions:
        if action.help:
            shown = parser._get_formatter()._get_help_string(action) % {"default": action.default}
            assert shown.lower().count("default") <= 1, (name, action.option_strings, shown)
    assert "examples:" in text and f"\n  {name.split()[0]}" in text.split("examples:")[1], name


def test_upscale_help_shows_the_encoder_and_thread_defaults_that_really_apply():
    from vsr.sysinfo import usable_cores

    flat = " ".join(run_vsr("upscale", "--help").stdout.decode().split())
    assert "23 for libx264" in flat and "medium for libx264" in flat
    assert f"one per core, {usable_cores()} here" in flat

def test_model_help_says_which_scales_have_shipped_weights(monkeypatch):
    from vsr import shipped

    flat = " ".join(run_vsr("upscale", "--help").stdout.decode().split())
    for model in ("espcn", "msrn"):
        scales = shipped.shipped_scales(model)
        said = ("shipped weights for " + ", ".join(f"x{s}" for s in scales)) if scales else "no weights ship yet"
        assert f"{model} (" in flat and said in flat.split(f"{model} (")[1].split(")")[0], model
    # Without a manifest entry the help says how to get weights, instead of offering nothing.
    monkeypatch.setattr(shipped, "manifest", lambda: [])
    assert shipped.shipped_summary("msrn").startswith("no weights ship yet: train them with `vsr train --model msrn`")


def test_version_is_the_package_metadata_and_the_module_attribute():
    result = run_vsr("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"vsr {vsr.__version__}"
    assert importlib.metadata.version("vsr") == vsr.__version__
    assert "version = attr: vsr._version.__version__" in (REPO / "setup.cfg").read_text()  # one source of truth


def test_weights_is_spelled_alike_everywhere():
    for name, parser in PARSERS:
        for action in parser._actions:
            if "--weights" in action.option_strings:
                assert action.metavar == "PATH", name
            if "--lr" in action.option_strings:
                assert name == "vsr train", name  # --lr means the learning rate, and only there


def _train_config(cli, monkeypatch, tmp_path, *args) -> dict:
    """The TrainConfig `vsr train ARGS` would train with (training itself is replaced)."""
    import vsr.training

    seen = {}

    def fake_train(config, **_):
        seen.update(vars(config))
        return {"best_val_psnr": 0.0, "best_epoch": 1, "config": {"out_dir": config.out_dir}}

    monkeypatch.setattr(vsr.training, "train", fake_train)
    code, err = cli("train", "--train-dir", tmp_path, "--val-dir", tmp_path, "--out", tmp_path / "run", *args)
    assert code == 0, err
    return seen


RECIPE_FIELDS = ("patch_size", "context", "scale_augment", "batch_size", "epochs", "patches_per_epoch", "lr", "loss",
                 "optimizer", "schedule", "last_layer_lr_scale", "model_config")


def test_train_defaults_are_the_recipe_of_the_shipped_espcn_weights(tmp_path, cli, monkeypatch):
    manifest = json.loads((REPO / "vsr" / "weights" / "manifest.json").read_text())
    x2 = next(w for w in manifest["weights"] if w["model"] == "espcn" and w["scale"] == 2)
    words = shlex.split(x2["recipe"][0])[2:]  # drop "vsr train"
    for flag in ("--train-dir", "--val-dir", "--out", "--seed", "--stop-at", "--threads"):
        while flag in words:
            i = words.index(flag)
            del words[i : i + 2]
    words = [w for w in words if w != "--quiet"]
    shipped = _train_config(cli, monkeypatch, tmp_path, *words)
    defaults = _train_config(cli, monkeypatch, tmp_path, "--scale", "2")
    assert {k: defaults[k] for k in RECIPE_FIELDS} == {k: shipped[k] for k in RECIPE_FIELDS}
    assert defaults["model_config"] == {"activation": "relu", "border": "replicate"}


def test_the_paper_recipe_is_one_flag_away_and_given_flags_still_win(tmp_path, cli, monkeypatch):
    paper = _train_config(cli, monkeypatch, tmp_path, "--paper-recipe")
    assert paper["model_config"]["activation"] == "tanh"
    assert (paper["loss"], paper["schedule"], paper["last_layer_lr_scale"]) == ("mse", "step", 0.1)
    assert (paper["patch_size"], paper["context"], paper["scale_augment"]) == (17, 0, [])
    mixed = _train_config(cli, monkeypatch, tmp_path, "--paper-recipe", "--activation", "relu", "--patch-size", "12", "--scale-augment", "none")
    assert mixed["model_config"]["activation"] == "relu" and mixed["patch_size"] == 12 and mixed["scale_augment"] == []
    msrn = _train_config(cli, monkeypatch, tmp_path, "--model", "msrn")
    assert "activation" not in msrn["model_config"] and "border" not in msrn["model_config"]


def test_msrn_defaults_are_msrn_recipe_not_espcn_one(tmp_path, cli, monkeypatch):
    from tests.conftest import assert_cli_error

    msrn = _train_config(cli, monkeypatch, tmp_path, "--model", "msrn", "--scale", "2")
    # The flags of vsr's first MSRN x2 run (issue 24), spelled out: the defaults must reproduce it.
    spelled = _train_config(cli, monkeypatch, tmp_path, "--model", "msrn", "--scale", "2", "--patch-size", "48",
                            "--batch-size", "16", "--patches-per-epoch", "1600", "--epochs", "12", "--lr", "3e-4",
                            "--loss", "l1", "--schedule", "cosine", "--context", "0", "--scale-augment", "none")
    assert {k: msrn[k] for k in RECIPE_FIELDS} == {k: spelled[k] for k in RECIPE_FIELDS}
    assert msrn["precision"] in ("bf16", "fp32")  # auto: bf16 only where the CPU accelerates it
    assert_cli_error(cli("train", "--model", "msrn", "--paper-recipe", "--train-dir", tmp_path, "--val-dir", tmp_path,
                         "--out", tmp_path / "p"), "ESPCN paper's recipe")
