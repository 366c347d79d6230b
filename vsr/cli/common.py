"""Flags shared by the commands that run a model (upscale, eval, bench, preview)."""
from __future__ import annotations

import argparse

# The registries' names, written out so that parsing arguments (and `--help`, and refusing a bad
# input) does not import torch; tests/test_cli_startup.py checks they match the registries.
MODEL_CHOICES = ("espcn", "msrn")
BACKEND_CHOICES = ("auto", "tensorrt", "torch", "onnxruntime")


def add_model_flags(p: argparse.ArgumentParser, default_scale: int = 2) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="espcn", choices=MODEL_CHOICES, help="network (espcn: real time; msrn: quality)")
    g.add_argument("--scale", type=int, default=default_scale, choices=(2, 3, 4), help="upscaling factor")
    g.add_argument("--weights", metavar="PATH", help="safetensors weights to use instead of the shipped ones")


def add_backend_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend")
    g.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="inference engine; auto picks the fastest available")
    g.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available)")
    g.add_argument("--precision", choices=("fp32", "fp16", "bf16"), help="default: fp16 on CUDA, fp32 on CPU")
    g.add_argument("--threads", type=int, help="CPU threads for inference")


def runner_from_args(args: argparse.Namespace):
    from ..api import prepare_runner

    return prepare_runner(args.model, args.scale, args.weights, args.backend, args.device, args.precision, args.threads)
