"""Live preview: a camera, file or stream super-resolved live, bicubic beside the CNN.

The pieces, in the order the pictures flow through them::

    source = open_source("0")                          # sources.py: camera, file or URL
    preview = LivePreview(source, runner, "espcn")     # live.py: capture and SR threads, stats
                                                       # (keys.py, view_state.py, model_menu.py,
                                                       #  snapshot.py: what the user's keys change)
    preview.start()
    show_window(preview)  or  PreviewServer(port=8080).serve(preview)   # window.py / web.py

``vsr preview`` on the command line does exactly this.
"""
from .keys import KEYS
from .live import LivePreview
from .sources import open_source
from .stats import PreviewStats

__all__ = ["KEYS", "LivePreview", "PreviewStats", "open_source"]
