"""The preview in a desktop window, through OpenCV's highgui.

Headless OpenCV builds (``opencv-*-headless``, what vsr's extras install) have no windows, and a
machine without a display cannot show one; :func:`check_window_support` says which, in one line,
before anything slow happens.
"""
from __future__ import annotations

import os
import sys

from ..errors import ConfigError
from .live import LivePreview

TITLE = "vsr preview"
_WEB_HINT = "use --web PORT to watch the preview in a browser"


def check_window_support():
    """OpenCV's ``cv2`` module if it can open a window here; a :class:`ConfigError` saying why not otherwise."""
    try:
        import cv2
    except ImportError:
        raise ConfigError(f"a preview window needs OpenCV with window support (pip install opencv-python); or {_WEB_HINT}") from None
    if _gui_backend(cv2) == "NONE":
        raise ConfigError(f"this OpenCV {cv2.__version__} is a headless build without windows; {_WEB_HINT}, or replace it with a non-headless build")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise ConfigError(f"no display to open a window on (DISPLAY is not set); {_WEB_HINT}")
    return cv2


def _gui_backend(cv2) -> str:
    """The ``GUI:`` entry of OpenCV's build information ("NONE" for headless builds, "" if absent)."""
    for line in cv2.getBuildInformation().splitlines():
        name, _, value = line.strip().partition(":")
        if name == "GUI":
            return value.strip().split()[0] if value.strip() else ""
    return ""


def show_window(preview: LivePreview) -> None:
    """Show ``preview`` until it is over, ``q`` is pressed or the window is closed."""
    cv2 = check_window_support()
    try:
        cv2.namedWindow(TITLE, cv2.WINDOW_AUTOSIZE)
    except cv2.error:
        raise ConfigError(f"OpenCV could not open a window on this display; {_WEB_HINT}") from None
    width = [1]

    def on_mouse(event, x, y, flags, param):
        dragging = event == cv2.EVENT_MOUSEMOVE and flags & cv2.EVENT_FLAG_LBUTTON
        if event == cv2.EVENT_LBUTTONDOWN or dragging:
            preview.split_from_x(x, width[0])

    cv2.setMouseCallback(TITLE, on_mouse)
    key = None
    try:
        while not preview.finished:
            got = preview.view(key, timeout=0.01)
            if got is not None:
                key, picture = got
                width[0] = picture.shape[1]
                cv2.imshow(TITLE, picture[:, :, ::-1])
            pressed = cv2.waitKey(15) & 0xFF
            if pressed != 0xFF:
                done = preview.handle_key(chr(pressed))
                if done.startswith("saved") or done.startswith("switching"):
                    print(f"vsr preview: {done}", file=sys.stderr)
            if cv2.getWindowProperty(TITLE, cv2.WND_PROP_VISIBLE) < 1:
                preview.quit()  # the user closed the window
    finally:
        cv2.destroyWindow(TITLE)
