"""Flags shared by the commands that run a model (upscale, eval, bench, preview)."""
from __future__ import annotations

import argparse

from ..shipped import shipped_summary

# The registries' names, written out so that parsing arguments (and `--help`, and refusing a bad
# input) does not import torch; tests/test_cli_startup.py checks they match the registries.
MODEL_CHOICES = ("espcn", "msrn")
BACKEND_CHOICES = ("auto", "tensorrt", "openvino", "onnxruntime", "torch")


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` that shows each real default once.

    A flag's default is appended as ``(default: X)`` only when it is a value (not None/False) and
    the help text does not already say what the default is, in words (``cuda when available``,
    ``libx264``): argparse's own ArgumentDefaultsHelpFormatter printed ``(default: None)`` for
    defaults decided later, and a second ``(default: ...)`` after texts that state theirs.
    Multi-line texts (the examples epilogs) keep their lines; one-line descriptions are wrapped.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or not action.option_strings:
            return text
        if isinstance(action.default, (list, tuple)):
            return text + " (default: " + ",".join(str(v) for v in action.default) + ")"
        return text + " (default: %(default)s)"

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def examples(*lines: tuple[str, str]) -> str:
    """An ``Examples:`` epilog: each (command, what it does) on its own lines."""
    body = "\n".join(f"  {command}\n      {what}" for command, what in lines)
    return f"examples:\n{body}\n"


def add_model_flags(p: argparse.ArgumentParser, default_scale: int = 2) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model", default="espcn", choices=MODEL_CHOICES,
                   help=f"network: espcn (real time; {shipped_summary('espcn')}) or msrn (quality; {shipped_summary('msrn')})")
    g.add_argument("--scale", type=int, default=default_scale, choices=(2, 3, 4), help="upscaling factor")
    g.add_argument("--weights", metavar="PATH", help="safetensors weights to use (default: the shipped ones for --model and --scale)")


def add_backend_flags(p: argparse.ArgumentParser, scoring: bool = False) -> None:
    """The backend flags; ``scoring`` commands measure in fp32 unless --precision says otherwise."""
    g = p.add_argument_group("backend")
    g.add_argument("--backend", default="auto", choices=BACKEND_CHOICES, help="inference engine; auto picks the fastest available")
    g.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    if scoring:
        g.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32", help="numeric precision of the model; scores are measured in fp32 unless asked")
    else:
        g.add_argument("--precision", choices=("fp32", "fp16", "bf16"), help=f"numeric precision (default: fp16 on CUDA; on the CPU {_cpu_default_precision()})")
    g.add_argument("--threads", type=int, metavar="N", help=f"CPU threads for inference (default: one per core, {_cores()} here)")


def _cpu_default_precision() -> str:
    from ..backends import bf16_speed
    from ..backends.openvino import openvino_installed

    # Every command builds this text, so it must not cost the probe's timing (nor torch's import).
    verdict = bf16_speed.known_bf16_verdict()
    if verdict and openvino_installed():
        return "bf16 for 8-bit pictures, as bf16 is faster than fp32 on this CPU (OpenVINO), else fp32"
    if verdict is None:
        return ("fp32, or bf16 for 8-bit pictures where OpenVINO is installed and a short timing on "
                "first use finds this CPU runs it faster")
    return "fp32 (bf16 where a CPU runs it faster and OpenVINO is installed)"


def _cores() -> int:
    from ..sysinfo import usable_cores

    return usable_cores()


def runner_spec_from_args(args: argparse.Namespace, model: str, scale: int, weights=None, input_bits: int | None = 8):
    """``model`` x``scale`` on the backend the backend flags ask for, as a RunnerSpec (by name),
    for pictures of ``input_bits`` bits per sample (None: unknown)."""
    from ..runner_spec import RunnerSpec

    return RunnerSpec(model=model, scale=scale, weights=weights, backend=args.backend, device=args.device,
                      precision=args.precision, threads=args.threads, input_bits=input_bits)


def runner_from_args(args: argparse.Namespace, warn=None, input_bits: int | None = 8):
    """The runner the model flags and the backend flags ask for."""
    spec = runner_spec_from_args(args, model=args.model, scale=args.scale, weights=args.weights, input_bits=input_bits)
    return spec.build(warn=warn)
