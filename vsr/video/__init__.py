"""Video super-resolution: PyAV decode -> luma through the model -> PyAV encode.

One module per job: :mod:`~vsr.video.reader` (open and decode), :mod:`~vsr.video.frames` (frames
<-> float planes), :mod:`~vsr.video.chroma` (chroma upscaling), :mod:`~vsr.video.encoder` (container, encoder,
settings and pixel format chosen), :mod:`~vsr.video.writer` (the muxer), :mod:`~vsr.video.passthrough` (audio, subtitles, chapters, metadata),
:mod:`~vsr.video.pipeline` (the concurrent pipeline), :mod:`~vsr.video.stages` (stage timing) and
:mod:`~vsr.video.containers` (container names, y4m's among them).
"""
from .pipeline import VideoResult, upscale_video
from .stages import STAGES, StageTimes

__all__ = ["upscale_video", "VideoResult", "StageTimes", "STAGES"]
