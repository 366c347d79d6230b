"""``vsr models``: the registered models and the weights that ship with vsr."""
from __future__ import annotations

from .common import HelpFormatter, examples


def add_parser(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list models and shipped weights",
        description="List the registered models and the weights shipped in the package, with their measured PSNR.",
        formatter_class=HelpFormatter,
        epilog=examples(("vsr models", "e.g. `espcn x2: espcn_x2.safetensors  Set5 36.81 dB (bicubic 33.63)`")),
    )
    p.set_defaults(handler=run)


def run(args) -> int:
    from ..models import list_models, manifest

    shipped = manifest()
    for name in list_models():
        entries = sorted((e for e in shipped if e["model"] == name), key=lambda e: e["scale"])
        if not entries:
            print(f"{name}: no shipped weights (train with `vsr train --model {name}`)")
        for e in entries:
            set5 = e.get("metrics", {}).get("Set5", {})
            psnr = f"Set5 {set5['model']['psnr']:.2f} dB (bicubic {set5['bicubic']['psnr']:.2f})" if set5 else "not measured"
            print(f"{name} x{e['scale']}: {e['file']}  {psnr}")
    return 0
