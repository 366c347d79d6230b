"""Pack image folders as grey PNGs that train exactly as the originals: for a machine the data
must travel to (a lent GPU takes at most 64 MiB with the tree; ../shared does not travel).

    python scripts/pack_luma.py ../shared/data/train/T91 ../shared/data/eval/Set5 --into .pack

vsr trains and validates on the Y plane alone. Each image's Y plane (BT.601 limited range, as
``vsr train`` computes it) is written as the grey levels whose training Y is that plane again, so a
folder of these files gives ``vsr train`` the very same pairs in about a third of the bytes.
Every file written is read back and compared before the next one.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from vsr.imaging.image_io import Image, list_images, write_image  # noqa: E402
from vsr.imaging.luma import y8_to_grey8  # noqa: E402
from vsr.training.data import luma_uint8  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="image folders; each becomes INTO/<its name>/")
    parser.add_argument("--into", type=Path, required=True, help="output folder")
    args = parser.parse_args()
    names = [folder.name for folder in args.folders]
    if len(set(names)) != len(names):
        parser.error(f"folders must have different names: {' '.join(names)}")
    total = 0
    for folder in args.folders:
        target = args.into / folder.name
        target.mkdir(parents=True, exist_ok=True)
        for path in list_images(folder):
            y = luma_uint8(path)
            out = target / f"{path.stem}.png"
            write_image(Image(y8_to_grey8(y)[:, :, None]), out)
            if not np.array_equal(luma_uint8(out), y):
                sys.exit(f"pack_luma: {out} does not train as {path} (Y planes differ)")
            total += out.stat().st_size
        print(f"{folder} -> {target}")
    print(f"packed {len(args.folders)} folder(s) into {args.into}: {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
