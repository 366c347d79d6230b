"""The models the ``m`` key cycles through: which one runs, the runners loaded so far, which models
cannot run here and why, and what the user is told about it.

Plain state, not locked here: :class:`~vsr.preview.live.LivePreview` calls it under its condition
variable, except :meth:`ModelMenu.load`, which may take seconds (it reads weights) and so runs on
the super-resolution thread outside the lock; it touches only the runner cache, which nothing else
reads.
"""
from __future__ import annotations

from typing import Callable, Sequence

from ..backends.base import Runner
from ..errors import VsrError


class ModelRefused(VsrError):
    """A model that cannot run in this preview: ``reason`` is the gist, ``detail`` how to fix it ("" if nothing to add)."""

    def __init__(self, model: str, reason: str, detail: str = ""):
        super().__init__(f"{model}: {reason}" + (f" ({detail})" if detail else ""))
        self.model, self.reason, self.detail = model, reason, detail


class ModelMenu:
    """``model`` runs first, on ``runner``; ``models`` are the names in the menu (``model`` is added
    if missing), each made by ``load_runner(name)`` when first chosen. Without ``load_runner`` the
    first model is the only one that can run."""

    def __init__(self, model: str, runner: Runner, load_runner: Callable[[str], Runner] | None = None, models: Sequence[str] = ()):
        names = list(models) or [model]
        if model not in names:
            names.insert(0, model)
        self.models = tuple(names)
        self._current = model
        self._runners = {model: runner}
        self._load_runner = load_runner
        self._unavailable: dict[str, str] = {}  # models that cannot run here -> why

    @property
    def current(self) -> str:
        """The model that runs now."""
        return self._current

    @property
    def unavailable(self) -> tuple[str, ...]:
        """The models that cannot run here, in menu order; :meth:`next_choice` passes them over."""
        return tuple(m for m in self.models if m in self._unavailable)

    def next_choice(self) -> tuple[str, str]:
        """(the next model after the current one that may run, ""), or (the current model, why no
        other can run); the reason is "" when the current model is the only one in the menu."""
        start = self.models.index(self._current)
        following = [self.models[(start + i) % len(self.models)] for i in range(1, len(self.models))]
        candidates = [m for m in following if m not in self._unavailable]
        if candidates and self._load_runner is not None:
            return candidates[0], ""
        if not following:
            return self._current, ""
        # Say why nothing happens, rather than nothing.
        reasons = "; ".join(self._unavailable.get(m, f"{m}: cannot be loaded here") for m in following)
        return self._current, f"no other model can run here, staying on {self._current}; {reasons}"

    def load(self, name: str, scale: int) -> Runner:
        """The runner of ``name``, made on first use; ModelRefused if it cannot be made or its scale
        is not ``scale`` (the halves of one preview share their size)."""
        runner = self._runners.get(name)
        if runner is None:
            if self._load_runner is None:
                raise ModelRefused(name, "cannot be loaded here")
            try:
                runner = self._load_runner(name)
            except VsrError as exc:
                raise ModelRefused(name, f"no usable weights for x{scale}", str(exc)) from None
        if runner.scale != scale:
            raise ModelRefused(name, f"x{runner.scale} does not match x{scale}")
        self._runners[name] = runner
        return runner

    def choose(self, name: str) -> None:
        """Make ``name`` (loaded by :meth:`load`) the current model."""
        self._current = name

    def refuse(self, refused: ModelRefused) -> str:
        """Remember that ``refused.model`` cannot run, so the menu passes it over from now on; returns
        what to tell the user."""
        self._unavailable[refused.model] = str(refused)
        # The gist first (the window shows the text up to the first ";"), then how to fix it.
        return f"{refused.model}: {refused.reason}, staying on {self._current}" + (f"; {refused.detail}" if refused.detail else "")
