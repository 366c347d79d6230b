"""What builds a runner, as one value passed by name: model, scale, weights and backend knobs.

The CLI commands, a cluster run's tasks, the live preview and ``vsr bench`` each describe the runner
they want as a :class:`RunnerSpec` and call :meth:`RunnerSpec.build`, instead of passing seven
arguments by position (where reordering one parameter would silently swap another). Plain values,
so a spec travels to another process (a Ray task) and keys a cache of built runners.
Importing this module imports no torch; :meth:`build` does, unless a cached graph lets it start without.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class RunnerSpec:
    """A model on a backend, before anything is loaded.

    ``weights`` None means the shipped weights for ``model`` x``scale``; ``backend`` is a name of
    :data:`vsr.backends.BACKEND_NAMES`; ``device``, ``precision`` and ``threads`` None take the
    backend's own defaults (:func:`vsr.backends.make_backend`). ``input_bits`` are the bits per
    sample of the pictures it will run on (None: unknown): a CPU where bf16 pays runs bf16
    by default only for pictures of 8 bits, which bf16's 8 significant bits keep.
    """

    model: str = "espcn"
    scale: int = 2
    weights: str | os.PathLike | None = None
    backend: str = "auto"
    device: str | None = None
    precision: str | None = None
    threads: int | None = None
    input_bits: int | None = 8

    def build(self, warn=None):
        """Load the model and make it ready on the backend: a :class:`vsr.backends.Runner`;
        ``warn`` receives the line saying the automatic choice fell back (default: printed).

        A CPU run whose graph an earlier run cached starts without torch (:mod:`vsr.backends.cached_start`).
        """
        from .backends.cached_start import cached_cpu_runner

        runner = cached_cpu_runner(self, warn)
        if runner is not None:
            return runner
        from .backends import build_runner, make_backend  # torch: imported only once a model is needed
        from .models import load_model

        model = load_model(self.model, self.scale, self.weights)
        backend = make_backend(self.backend, device=self.device, precision=self.precision, threads=self.threads, input_bits=self.input_bits)
        return build_runner(model, backend, warn=warn)
