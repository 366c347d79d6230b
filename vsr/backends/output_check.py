"""The first-output check: a model whose first picture is not a picture stops the job at once.

Weights can pass every check on the file (names, shapes, floating dtypes, finite values) and still
be garbage: a damaged file, a wrong export, a backend that miscomputes. Without this check such a
run encodes a whole file of black, white or noise and exits 0. A working model turns a picture
with some contrast into a picture with some contrast, so the first output is checked once: it
must be finite, and not flat when its input was not flat. Frames before the first one with
contrast (a fade from black) are checked for finiteness only, and the check ends with that frame:
it costs a few reductions on one frame per job.

Every runner :func:`vsr.backends.build_runner` hands out goes through it, so the video pipeline,
image jobs, the preview, cluster tasks, eval and bench all get it.
"""
from __future__ import annotations

import numpy as np

from ..errors import WeightsError

# An input frame with at least this luma range (16 of 255 levels) has contrast a model must keep.
INPUT_CONTRAST = 16 / 255
# The clipped output range below which such a frame came out flat (a quarter of one 8-bit level).
FLAT_OUTPUT = 1 / 1024


def check_first_output(batch: np.ndarray, out: np.ndarray) -> bool:
    """Check one call's output against its input; True once a frame with contrast has passed.

    Raises :class:`WeightsError` for a non-finite output or a flat output from an input with contrast.
    """
    batch = batch.reshape(-1, *batch.shape[-2:])
    out = out.reshape(-1, *out.shape[-2:])
    for frame, picture in zip(batch, out):
        if not np.isfinite(picture.sum(dtype=np.float64)):
            raise WeightsError("the model's first output holds NaN or infinite values; its weights are damaged or do not belong to it")
        if float(frame.max()) - float(frame.min()) < INPUT_CONTRAST:
            continue  # a flat input (black, a fade) may give a flat output: look at the next frame
        clipped = np.clip(picture, 0.0, 1.0)
        if float(clipped.max()) - float(clipped.min()) < FLAT_OUTPUT:
            level = float(clipped.mean())
            raise WeightsError(
                f"the model turned a picture into a flat one (every pixel {level:.3f}); "
                "its weights are damaged or do not belong to it"
            )
        return True
    return False


class FirstOutputCheck:
    """Wraps a runner; its calls are checked by :func:`check_first_output` until one passes.

    Everything else (name, device, precision, scale, stats, accepts, ...) is the inner runner's,
    read through at each use, so a runner that falls back to another backend reports the new one.
    """

    def __init__(self, inner):
        # Private names: every other attribute, ``inner`` included, reads through to the wrapped runner.
        self._checked_runner = inner
        self._first_output_ok = False

    @property
    def first_output_ok(self) -> bool:
        """True once a frame with contrast came out as a picture (and checks stopped)."""
        return self._first_output_ok

    def __getattr__(self, name: str):
        if name.startswith("_checked_runner"):  # not set yet (copying, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self._checked_runner, name)

    def run(self, batch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        result = self._checked_runner.run(batch, out=out)
        if not self._first_output_ok:
            self._first_output_ok = check_first_output(np.asarray(batch, dtype=np.float32), result)
        return result
