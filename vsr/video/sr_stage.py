"""The pipeline's model stage: luma planes in batches through the runner.

It runs on the calling thread (the main thread under the CLI, so Ctrl-C arrives there). A batch
takes what is ready, up to ``batch`` pictures, rather than waiting to fill: at the end of a video,
or when decoding is the slower stage, waiting would only add latency.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from .decode_stage import End, PictureFeed
from .stages import StageTimes

if TYPE_CHECKING:  # the pipeline takes any runner; importing the backends would import torch
    from ..backends.base import Runner


def super_resolve(feed: PictureFeed, put: Callable[[object], None], runner: Runner, batch: int, stages: StageTimes) -> None:
    """Every picture of ``feed`` with its luma upscaled by ``runner``, then the End, to ``put``."""
    s = runner.scale
    while True:
        item = feed.next()
        if isinstance(item, End):
            put(item)
            return
        pictures = [item]
        end = None
        while len(pictures) < batch:
            more = feed.next(wait=False)
            if more is None:
                break
            if isinstance(more, End):
                end = more
                break
            pictures.append(more)
        with stages.measure("sr"):
            out = runner.run(np.stack([p.luma for p in pictures]))
        h, w = pictures[0].luma.shape
        if out.shape != (len(pictures), s * h, s * w):
            raise ConfigError(f"the {runner.name} runner returned {out.shape} for {len(pictures)} frames of {w}x{h} at x{s}")
        for picture, luma in zip(pictures, out):
            picture.luma = luma
            put(picture)
        if end is not None:
            put(end)
            return
