"""vsr/runner_spec.py: one value, passed by name, builds the runner for the CLI, cluster tasks,
the preview and vsr bench."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np

from vsr.cluster.settings import ClusterSettings
from vsr.runner_spec import RunnerSpec


def test_cluster_settings_hand_their_runner_fields_over_by_name():
    # Every field a distinct value: a field handed to the wrong parameter would show.
    settings = ClusterSettings(model="msrn", scale=3, weights="w.safetensors", backend="torch", device="cpu",
                               precision="bf16", threads=5, codec="ffv1", batch=4)
    spec = settings.runner_spec()
    assert spec == RunnerSpec(model="msrn", scale=3, weights="w.safetensors", backend="torch", device="cpu",
                              precision="bf16", threads=5)
    for field in dataclasses.fields(RunnerSpec):
        assert getattr(spec, field.name) == getattr(settings, field.name)
    assert hash(spec) == hash(settings.runner_spec())  # the cache key of a worker's built runners


def test_a_spec_builds_the_runner_it_names(espcn_weights):
    runner = RunnerSpec(model="espcn", scale=2, weights=espcn_weights[2], backend="torch", device="cpu").build()
    assert (runner.name, runner.device, runner.precision, runner.scale) == ("torch", "cpu", "fp32", 2)
    out = runner.run(np.full((1, 8, 10), 0.5, np.float32))
    assert out.shape == (1, 16, 20) and np.isfinite(out).all()


def test_importing_the_spec_does_not_import_torch():
    code = "import sys, vsr.runner_spec; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
