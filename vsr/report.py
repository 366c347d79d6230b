"""Telling the user what a job is doing and what it did: warnings, progress bars, closing report.

The one owner of these lines (STYLE rule 13). The CLI builds a :class:`Reporter` and hands it to
the library, which never prints itself; at the end the CLI gives it a :class:`JobReport` and the
reporter writes the closing line on stderr, in ffmpeg's spirit: what was written, frames in and
out, sizes, seconds, fps, the model, the backend that really ran (after any fallback) and the
encoder with its settings. ``--quiet`` hides progress bars, never the report; ``--verbose`` adds
where the time went, stage by stage; ``--report-json FILE`` writes the same facts as JSON.
"""
from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

from .rates import format_rate

PREFIX = "vsr: "

# The video pipeline's stages (vsr.video.stages.STAGES) by the thread that runs them: the three
# threads overlap, so the busiest one bounds the run.
_THREADS = {
    "decode": ("decode", "to_tensor"),
    "SR": ("sr",),
    "encode": ("to_frame", "encode"),
}
_STAGE_WORDS = {"decode": "demux+decode", "to_tensor": "planes", "sr": "model", "to_frame": "chroma+frame", "encode": "encode+mux"}


def _size(size: tuple[int, int] | None) -> str:
    return "?" if size is None else f"{size[0]}x{size[1]}"


@dataclass
class JobReport:
    """The facts of one finished job; ``kind`` is video, image, images (a folder) or cluster.

    ``frames_in``/``frames_out`` count video frames, or images for image jobs; ``size_in`` and
    ``size_out`` are (width, height) in pixels, None where they differ from item to item;
    ``stage_s`` maps the pipeline's stages to the seconds each worked (video only).
    """

    kind: str
    output: str
    frames_in: int
    frames_out: int
    seconds: float
    model: str
    scale: int
    backend: str | None = None
    device: str | None = None
    precision: str | None = None
    size_in: tuple[int, int] | None = None
    size_out: tuple[int, int] | None = None
    encoder: str | None = None
    encoder_settings: dict = field(default_factory=dict)
    stage_s: dict | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def fps(self) -> float | None:
        return self.frames_out / self.seconds if self.seconds > 0 else None

    def line(self) -> str:
        """The closing line (without the ``vsr: `` prefix)."""
        unit = "frames" if self.kind in ("video", "cluster") else ("image" if self.frames_out == 1 else "images")
        if self.kind == "cluster" and self.extra.get("videos", 1) > 1:
            unit = f"frames in {self.extra['videos']} videos"
        parts = [f"{self.frames_in} -> {self.frames_out} {unit}"]
        if self.size_in is not None or self.size_out is not None:
            parts.append(f"{_size(self.size_in)} -> {_size(self.size_out)}")
        fps = self.fps
        parts.append(f"{self.seconds:.2f} s" + (f", {format_rate(fps)} {'fps' if unit.startswith('frames') else 'images/s'}" if fps else ""))
        text = f"wrote {self.output}: " + ", ".join(parts) + f"; {self.model} x{self.scale}"
        if self.backend:
            text += f" on {self.backend} {self.device} {self.precision}"
        if self.encoder:
            settings = " ".join(f"{k}={v}" for k, v in self.encoder_settings.items())
            text += f"; {self.encoder}" + (f" {settings}" if settings else "")
        if self.extra.get("summary"):
            text += f"; {self.extra['summary']}"
        return text

    def bounding_thread(self) -> str | None:
        """The pipeline thread (decode, SR or encode) that worked longest: it bounds the fps."""
        if not self.stage_s:
            return None
        busy = {name: sum(self.stage_s.get(s, 0.0) for s in stages) for name, stages in _THREADS.items()}
        return max(busy, key=busy.get)

    def stage_lines(self) -> list[str]:
        """Where the time went, per pipeline thread in ms per frame (``--verbose``)."""
        if not self.stage_s or not self.frames_out:
            return []
        per_frame = {s: 1000.0 * v / self.frames_out for s, v in self.stage_s.items()}
        parts = []
        for name, stages in _THREADS.items():
            total = sum(per_frame.get(s, 0.0) for s in stages)
            inner = " + ".join(f"{_STAGE_WORDS.get(s, s)} {per_frame.get(s, 0.0):.1f}" for s in stages)
            parts.append(f"{name} {total:.1f} ms/frame" + (f" ({inner})" if len(stages) > 1 else ""))
        bound = self.bounding_thread()
        wall = 1000.0 * self.seconds / self.frames_out
        return [
            "stages: " + ", ".join(parts),
            f"{bound} bounds the run: {wall:.1f} ms/frame end to end (the three threads overlap)",
        ]

    def as_dict(self) -> dict:
        """The same facts, JSON-ready (for ``--report-json``)."""
        facts = asdict(self)
        facts["fps"] = self.fps
        for key in ("size_in", "size_out"):
            if facts[key] is not None:
                facts[key] = list(facts[key])
        if self.stage_s and self.frames_out:
            facts["stage_ms_per_frame"] = {s: 1000.0 * v / self.frames_out for s, v in self.stage_s.items()}
            facts["bounded_by"] = self.bounding_thread()
        facts["line"] = self.line()
        return facts


class _NoBar:
    """A progress bar that shows nothing (``--quiet``)."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


class Reporter:
    """Where a job's warnings, notes, progress bar and closing report go (stderr by default).

    ``quiet``: no progress bars (warnings and the report stay); ``verbose``: per-stage timings
    after the report; ``json_path``: the report also as JSON in that file.
    """

    def __init__(self, quiet: bool = False, verbose: bool = False, json_path: str | os.PathLike | None = None, stream: TextIO | None = None):
        self.quiet, self.verbose = quiet, verbose
        self.json_path = Path(json_path) if json_path is not None else None
        self._stream = stream
        self._bars: list = []

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def _print(self, text: str) -> None:
        print(PREFIX + text, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        """Something the user should know that did not stop the job."""
        self._print(f"warning: {message}")

    def note(self, message: str) -> None:
        """A fact or a hint (e.g. how to get a faster engine)."""
        self._print(message)

    def progress(self, total: int | None, unit: str = "frame", desc: str = "upscale", initial: int = 0):
        """A bar with ``update(n)`` and ``close()``, starting at ``initial`` (work done by an
        earlier, resumed run); shown only on a terminal, never when quiet."""
        if self.quiet:
            return _NoBar()
        from tqdm import tqdm

        # disable=None: shown only on a terminal, so logs and pipes get no carriage-return noise.
        return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=self.stream, disable=None, dynamic_ncols=True)

    def counter(self, unit: str = "image", desc: str = "upscale"):
        """A ``progress(done, total, *_)`` callback for the library that drives one bar, opened at
        the first call (when the total is known) and closed at the last."""
        bar = None

        def progress(done: int, total: int, *_) -> None:
            nonlocal bar
            if bar is None:
                bar = self.progress(total, unit=unit, desc=desc)
                self._bars.append(bar)
            bar.update(done - getattr(bar, "n", 0))
            if done >= total:
                bar.close()

        return progress

    def finish(self, report: JobReport) -> None:
        """The closing report: one line, stage timings when verbose, the JSON file when asked."""
        for bar in self._bars:  # a bar left open would redraw itself over the report
            bar.close()
        self._print(report.line())
        if self.verbose:
            for line in report.stage_lines():
                self._print(line)
        if self.json_path is not None:
            write_json(self.json_path, report.as_dict())


def write_json(path: Path, facts: dict) -> None:
    """Write ``facts`` to ``path`` atomically (through :mod:`vsr.files`), so a reader never sees half."""
    from .errors import OutputError
    from .files import write_json_atomically

    try:
        write_json_atomically(path, facts)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report ({exc.strerror})") from None
    except OutputError as exc:  # the temporary file could not be made: say which file it was for
        raise OutputError(f"{path}: cannot write the report ({exc})") from None


# -- building the report from what a job returned --------------------------------------------------


def _runner_facts(runner) -> dict:
    """The backend that really ran: asked after the job, so after any fallback."""
    return {"backend": runner.name, "device": runner.device, "precision": runner.precision}


def video_report(result, model: str, runner) -> JobReport:
    """The report of :func:`vsr.video.upscale_video`'s result (a ``VideoResult``)."""
    encoder = result.encoder
    settings = dict(encoder.settings()) if encoder is not None else {}
    if result.pix_fmt:
        settings["pix_fmt"] = result.pix_fmt
    raw = encoder is None or encoder.name == "wrapped_avframe"
    return JobReport(
        kind="video",
        output="stdout" if result.target == "-" else result.target,
        frames_in=result.frames_in or result.frames,
        frames_out=result.frames,
        seconds=result.stages.wall_s,
        model=model,
        scale=runner.scale,
        size_in=(result.input_width, result.input_height) if result.input_width else None,
        size_out=(result.width, result.height),
        encoder="y4m (raw)" if raw else encoder.name,
        encoder_settings={"pix_fmt": result.pix_fmt} if raw else settings,
        stage_s=dict(result.stages.seconds),
        notes=list(result.notes),
        **_runner_facts(runner),
    )


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the file's header (no decoding), None if unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:  # a report never fails a finished job
        return None


def _one(sizes: list) -> tuple[int, int] | None:
    return sizes[0] if sizes and all(s == sizes[0] for s in sizes) else None


def image_report(source, outputs, seconds: float, model: str, runner) -> JobReport:
    """The report of an image job: ``outputs`` is the written path, or the list of them for a
    folder; sizes are read from the files' headers (shown when every image has the same)."""
    from .imaging.image_io import list_images

    source = Path(source)
    folder = source.is_dir()
    written = [Path(p) for p in outputs] if isinstance(outputs, (list, tuple)) else [Path(outputs)]
    inputs = list_images(source) if folder else [source]
    return JobReport(
        kind="images" if folder else "image",
        output=str(written[0].parent if folder and written else (outputs if folder else written[0])),
        frames_in=len(inputs),
        frames_out=len(written),
        seconds=seconds,
        model=model,
        scale=runner.scale,
        size_in=_one([_image_size(p) for p in inputs]),
        size_out=_one([_image_size(p) for p in written]),
        encoder="png" if folder else written[0].suffix.lstrip(".").lower(),
        **_runner_facts(runner),
    )


def _video_size(path) -> tuple[int, int] | None:
    """(width, height) of a file's first video stream, from its header; None if unreadable."""
    try:
        import av

        with av.open(str(path)) as container:
            ctx = container.streams.video[0].codec_context
            return ctx.width, ctx.height
    except Exception:  # a report never fails a finished job
        return None


def cluster_report(result, settings, output: str) -> JobReport:
    """The report of :func:`vsr.cluster.upscale_cluster`'s result: the backend is the one asked
    for (each Ray task chooses its own; their warnings say when one fell back)."""
    from .video.encoder import choose_encoder, output_format

    videos = result.videos
    first = videos[0].target if videos else output
    encoder = choose_encoder(output_format(first), settings.codec, settings.crf, settings.preset)  # as the tasks chose it
    encoder_settings = encoder.settings()
    if settings.pix_fmt:
        encoder_settings["pix_fmt"] = settings.pix_fmt
    return JobReport(
        kind="cluster",
        output=videos[0].target if len(videos) == 1 else output,
        frames_in=result.frames,
        frames_out=result.frames,
        seconds=result.wall_s,
        model=settings.model,
        scale=settings.scale,
        size_in=_one([_video_size(v.source) for v in videos]),
        size_out=_one([_video_size(v.target) for v in videos]),
        backend=settings.backend,
        device=settings.device or "auto",
        precision=settings.precision or "auto",
        encoder=encoder.name,
        encoder_settings=encoder_settings,
        extra={
            "summary": f"{result.segments_run} segments" + (f" on {result.cluster}" if result.cluster else "")
            + (f", {result.segments_reused} done before" if result.segments_reused else ""),
            "videos": len(videos),
            "cluster": result.cluster,
            "segments_run": result.segments_run,
            "segments_reused": result.segments_reused,
            "hosts": list(result.hosts),
        },
    )
