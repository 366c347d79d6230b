"""What every task of a cluster run needs to know, as plain values that travel to any node.

A runner holds a model on a device (and an ONNX session or TensorRT engine), which cannot be sent
to another process; a task gets these settings instead and builds its own runner from them
(:mod:`vsr.cluster.task`). :meth:`ClusterSettings.fingerprint` is what a resumed run must share
with the run that wrote the parts: everything that changes the output, and nothing that only
changes the speed (threads, the cluster's address).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from .._version import __version__
from ..files import sha256_file
from ..runner_spec import RunnerSpec


@dataclass(frozen=True)
class ClusterSettings:
    """Model, backend and encoder settings of a run, as ``vsr upscale`` takes them."""

    model: str = "espcn"
    scale: int = 2
    weights: str | None = None
    backend: str = "auto"
    device: str | None = None
    precision: str | None = None
    threads: int | None = None
    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    batch: int | None = None
    input_bits: int | None = 8  # the source's bits per sample: whether bf16 may be the default


    def runner_spec(self) -> RunnerSpec:
        """The runner a task builds (:meth:`RunnerSpec.build`), its fields given by name."""
        return RunnerSpec(
            model=self.model,
            scale=self.scale,
            weights=self.weights,
            backend=self.backend,
            device=self.device,
            precision=self.precision,
            threads=self.threads,
            input_bits=self.input_bits,
        )

    def video_options(self) -> dict:
        """The encoder and batch options of :func:`vsr.video.upscale_video`."""
        return {"codec": self.codec, "crf": self.crf, "preset": self.preset, "pix_fmt": self.pix_fmt, "batch": self.batch}

    def wants_gpu(self) -> bool | None:
        """True if the backend or device asks for a GPU, False if for the CPU, None if either:
        the backend's class says (``uses_gpu``, :mod:`vsr.backends.selection`)."""
        from ..backends.selection import backend_class  # torch: the driver loads the model anyway

        return backend_class(self.backend).uses_gpu(self.device)

    def fingerprint(self) -> dict:
        """What a run's output depends on: these settings (without ``threads``), the weights'
        content and the vsr version."""
        values = asdict(self)
        del values["threads"]
        values["weights_sha256"] = _weights_sha256(self.model, self.scale, self.weights)
        values["vsr"] = __version__
        return values


def _weights_sha256(model: str, scale: int, weights: str | None) -> str | None:
    if weights is None:
        from ..shipped import find_shipped, shipped_path

        entry = find_shipped(model, scale)
        if entry is None:
            return None
        path = shipped_path(entry)
    else:
        path = Path(weights)
    return sha256_file(path) if path.is_file() else None
