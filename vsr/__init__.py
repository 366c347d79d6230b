"""vsr: real-time video super-resolution (ESPCN, MSRN) on the luma plane.

The Python API the command line wraps::

    import vsr
    runner = vsr.prepare_runner("espcn", scale=3)      # shipped weights, fastest backend here
    vsr.upscale_path("in.png", "out.png", runner)      # an image, a folder, or a video
    vsr.upscale_cluster("film.mkv", "film_x2.mkv")      # a video or folder on Ray (vsr[cluster])
"""
from ._version import __version__


def __getattr__(name: str):
    # Lazy, so `import vsr` stays light: the video pipeline pulls in PyAV.
    if name == "upscale_video":
        from .video import upscale_video

        return upscale_video
    if name == "upscale_cluster":
        from .cluster import upscale_cluster

        return upscale_cluster
    if name in ("prepare_runner", "upscale_path"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'vsr' has no attribute {name!r}")
