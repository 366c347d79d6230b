"""Chroma upscaling: Cb/Cr planes resampled onto the output's chroma grid, bicubic.

Only luma goes through the CNN (the models are trained on Y; colour carries little detail the eye
resolves), so chroma needs an interpolator that is good, exact in geometry and cheap. This one is
the Keys cubic (a = -0.5, the kernel of MATLAB's ``imresize`` and of vsr.imaging.resize) with
replicated edges, applied separably as a polyphase filter: an integer scale means each output
sample uses one of a few fixed 4-tap weight sets, so a plane costs a handful of vectorised
multiply-adds, about 1 ms for CIF 4:2:0 on one core.

Geometry: chroma samples of 4:2:0 and 4:2:2 sit between or on luma samples depending on the
*chroma siting*. MPEG-2, H.264, HEVC and their players default to "left" (horizontally co-sited with
the even luma columns, vertically centred); JPEG, MPEG-1 and y4m's ``C420jpeg`` use "center". The
resampler maps every output chroma sample to its exact position on the input chroma grid, for
any input/output subsampling and siting, so colour stays registered with the super-resolved luma
(Keys, "Cubic convolution interpolation for digital image processing", IEEE TASSP 1981).
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

SITINGS = ("left", "center", "topleft")


def _keys(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _offset(subsampling: int, siting: str, axis: int) -> float:
    """Position of chroma sample 0 in luma pixel units (luma sample 0 at 0)."""
    if subsampling == 1:
        return 0.0
    if axis == 1:  # horizontal
        return 0.0 if siting in ("left", "topleft") else (subsampling - 1) / 2
    return 0.0 if siting == "topleft" else (subsampling - 1) / 2


class _AxisPlan:
    """Polyphase taps for one axis: output m reads input ``step * m + c`` (chroma index units)."""

    def __init__(self, n_in: int, n_out: int, step: Fraction, c: float):
        self.n_in, self.n_out = n_in, n_out
        self.num, self.den = step.numerator, step.denominator
        self.groups = -(-n_out // self.den)  # output samples per phase
        self.phases = []
        for p in range(self.den):
            x = float(step * p) + c
            base = math.floor(x)
            frac = x - base
            weights = _keys(np.array([frac + 1, frac, 1 - frac, 2 - frac])).astype(np.float32)
            weights /= weights.sum()
            self.phases.append((base - 1, weights))
        first = min(b for b, _ in self.phases)
        last = max(b for b, _ in self.phases) + 3 + self.num * (self.groups - 1)
        self.pad_before = max(0, -first)
        self.pad_after = max(0, last - (n_in - 1))

    def apply(self, planes: np.ndarray, axis: int) -> np.ndarray:
        pad = [(0, 0)] * planes.ndim
        pad[axis] = (self.pad_before, self.pad_after)
        padded = np.pad(planes, pad, mode="edge")
        out_shape = list(planes.shape)
        out_shape[axis] = self.groups * self.den
        out = np.empty(out_shape, np.float32)
        group_shape = list(planes.shape)
        group_shape[axis] = self.groups
        acc = np.empty(group_shape, np.float32)
        tmp = np.empty(group_shape, np.float32)
        index = [slice(None)] * planes.ndim
        for p, (start, weights) in enumerate(self.phases):
            for t in range(4):
                s0 = self.pad_before + start + t
                index[axis] = slice(s0, s0 + self.num * (self.groups - 1) + 1, self.num)
                source = padded[tuple(index)]
                if t == 0:
                    np.multiply(source, weights[0], out=acc)
                else:
                    np.multiply(source, weights[t], out=tmp)
                    acc += tmp
            index[axis] = slice(p, None, self.den)
            out[tuple(index)] = acc
        index[axis] = slice(0, self.n_out)
        return out[tuple(index)]


class ChromaUpscaler:
    """Resample Cb/Cr from the input chroma grid to the output's, for a ``scale``-times larger picture.

    ``in_shift``/``out_shift`` are (log2 horizontal, log2 vertical) subsampling of input and output
    (e.g. (1, 1) for 4:2:0); ``in_siting``/``out_siting`` one of :data:`SITINGS`. The output may be
    less subsampled than the input (4:2:0 in, 4:4:4 out) but not more than ``scale`` allows.
    """

    def __init__(self, scale: int, in_shift: tuple[int, int], out_shift: tuple[int, int], in_siting: str = "left", out_siting: str = "left"):
        for siting in (in_siting, out_siting):
            if siting not in SITINGS:
                raise ValueError(f"chroma siting must be one of {SITINGS}, not {siting!r}")
        self.scale = scale
        self.in_shift, self.out_shift = in_shift, out_shift
        self.in_siting, self.out_siting = in_siting, out_siting
        self._plans: dict[tuple[int, int, int], _AxisPlan] = {}

    def _plan(self, axis: int, n_in: int, n_out: int) -> _AxisPlan:
        key = (axis, n_in, n_out)
        if key not in self._plans:
            # Axis 1 is horizontal (index 0 of the shifts), axis 0 vertical.
            k = 0 if axis == 1 else 1
            d_in, d_out = 1 << self.in_shift[k], 1 << self.out_shift[k]
            off_in = _offset(d_in, self.in_siting, axis)
            off_out = _offset(d_out, self.out_siting, axis)
            s = self.scale
            # Output chroma m sits at output luma d_out*m + off_out, i.e. input luma
            # (d_out*m + off_out + 0.5)/s - 0.5 (pixel-centre mapping of the luma upscaling),
            # i.e. input chroma index ((...) - off_in)/d_in.
            step = Fraction(d_out, s * d_in)
            c = ((off_out + 0.5) / s - 0.5 - off_in) / d_in
            self._plans[key] = _AxisPlan(n_in, n_out, step, c)
        return self._plans[key]

    def axis_taps(self, axis: int, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
        """The polyphase filter of one axis as arrays, for resamplers on other devices
        (:mod:`vsr.video.frame_chain`): ``(indices, weights)``, where output sample
        ``g * phases + p`` (for ``g < groups``, cut to ``n_out``) is ``sum_t weights[p, t] *
        input[indices[p, t, g]]``, summed in order t = 0..3; ``indices`` (phases, 4, groups) int64,
        already clamped to the plane (the replicated edge), ``weights`` (phases, 4) float32.
        ``axis`` 1 is horizontal, 0 vertical, as in :meth:`__call__`."""
        plan = self._plan(axis, n_in, n_out)
        groups = np.arange(plan.groups) * plan.num
        indices = np.stack([np.stack([start + t + groups for t in range(4)]) for start, _ in plan.phases])
        weights = np.stack([w for _, w in plan.phases]).astype(np.float32)
        return np.clip(indices, 0, n_in - 1).astype(np.int64), weights

    def __call__(self, chroma: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
        """(C, Hc, Wc) float32 planes -> (C, Hc', Wc') with (Wc', Hc') = ``out_size`` (width, height)."""
        chroma = np.asarray(chroma, dtype=np.float32)
        out_w, out_h = out_size
        flat = chroma.reshape(-1, *chroma.shape[-2:])
        wide = self._plan(1, flat.shape[2], out_w).apply(flat, axis=2)
        tall = self._plan(0, flat.shape[1], out_h).apply(wide, axis=1)
        return tall.reshape(*chroma.shape[:-2], out_h, out_w)
