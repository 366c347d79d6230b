"""Container (muxer and demuxer) names vsr treats specially, spelled once.

y4m is FFmpeg's ``yuv4mpegpipe``: raw pictures only (no sound, subtitles or chapters), vsr's
default on stdin/stdout, and the one format whose header vsr reads and patches itself.
"""
from __future__ import annotations

#: FFmpeg's name of the y4m muxer and demuxer.
Y4M = "yuv4mpegpipe"
