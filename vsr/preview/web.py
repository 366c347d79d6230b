"""The preview as a local web page: ``/`` (page), ``/stream.mjpg`` (MJPEG), ``/stats`` (JSON).

Also ``/frame.jpg`` (the newest picture, once) and ``POST /key?k=KEY`` / ``POST /split?x=0.4``, which
the page sends for the same keys the window takes. Served by the standard library's threading HTTP
server; pictures are JPEG-encoded by Pillow, once per picture however many viewers there are.
"""
from __future__ import annotations

import errno
import io
import json
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from .live import KEYS, LivePreview

DEFAULT_HOST = "127.0.0.1"
_BOUNDARY = "vsrframe"
_JPEG_QUALITY = 85


def parse_address(text: str) -> tuple[str, int]:
    """``"8080"``, ``"0.0.0.0:8080"``, ``"[::1]:8080"`` -> (host, port); the host defaults to 127.0.0.1."""
    match = re.fullmatch(r"(?:\[([^\]]+)\]:|([^:\[\]]*):)?(\d{1,5})", text.strip())
    if not match or int(match[3]) > 65535:
        raise ConfigError(f"--web takes [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080; got {text!r}")
    host = match[1] or match[2] or DEFAULT_HOST
    return host, int(match[3])


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an open MJPEG stream must not keep the process alive
    allow_reuse_address = True


class PreviewServer:
    """An HTTP server bound to ``host``:``port`` (0: any free port), ready to :meth:`serve` a preview.

    Binding happens here, so a port in use is reported before the model is loaded.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = 8080):
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        except socket.gaierror:
            raise ConfigError(f"--web: unknown host {host!r}") from None
        server_class = type("_PreviewHTTPServer", (_Server,), {"address_family": family})
        try:
            self.httpd = server_class((host, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is in use; choose another with --web PORT (0 picks a free one)") from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        self.httpd.preview = None
        self.httpd.feed = None
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def serve(self, preview: LivePreview) -> None:
        """Serve ``preview`` until it is over (source ended, ``q``) or Ctrl-C, then close the port."""
        self.httpd.preview = preview
        self.httpd.feed = _JpegFeed(preview)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="vsr-preview-web", daemon=True)
        self._thread.start()
        try:
            while not preview.wait(0.2):
                pass
        finally:
            self.close()

    def close(self) -> None:
        """Stop serving (if started) and release the port."""
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread = None
        self.httpd.server_close()


class _JpegFeed:
    """The newest picture as JPEG bytes, encoded once per picture."""

    def __init__(self, preview: LivePreview):
        self.preview = preview
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], bytes] | None = None

    def next(self, after=None, timeout: float | None = None) -> tuple[tuple[int, int], bytes] | None:
        view = self.preview.view(after, timeout)
        if view is None:
            return None
        key, picture = view
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, encode_jpeg(picture))
            return self._cached


def encode_jpeg(picture, quality: int = _JPEG_QUALITY) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    server_version = "vsr-preview"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per request would bury the preview's own output

    def do_GET(self):
        path = urlsplit(self.path).path
        try:
            if path == "/":
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", _PAGE.encode())
            elif path == "/stats":
                self._send_json(self.server.preview.stats().as_dict())
            elif path == "/stream.mjpg":
                self._stream()
            elif path == "/frame.jpg":
                got = self.server.feed.next(None, timeout=10.0)
                if got is None:
                    self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", b"no picture yet\n")
                else:
                    self._send(HTTPStatus.OK, "image/jpeg", got[1])
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the viewer went away

    def do_POST(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        preview = self.server.preview
        try:
            if url.path == "/key" and query.get("k", [""])[0] in KEYS:
                done = preview.handle_key(query["k"][0])
                self._send_json({"done": done, **preview.stats().as_dict()})
            elif url.path == "/split" and _is_number(query.get("x", [""])[0]):
                preview.set_split(float(query["x"][0]))
                self._send_json(preview.stats().as_dict())
            else:
                self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"POST /key?k=KEY or /split?x=FRACTION\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _stream(self):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        key = None
        while True:
            got = self.server.feed.next(key, timeout=1.0)
            if got is None:
                if self.server.preview.finished:
                    return
                continue
            key, jpeg = got
            self.wfile.write(f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
            self.wfile.flush()

    def _send_json(self, data: dict):
        self._send(HTTPStatus.OK, "application/json", json.dumps(data).encode())

    def _send(self, status, content_type: str, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


_KEY_HELP = " &middot; ".join(f"<kbd>{'space' if k == ' ' else k}</kbd> {what}" for k, what in KEYS.items())

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vsr preview</title>
<style>
  body { margin: 0; padding: 12px; background: #181818; color: #ddd; font: 14px system-ui, sans-serif; }
  #picture { display: block; max-width: 100%; image-rendering: auto; cursor: crosshair; }
  #stats { margin: 8px 0; font: 14px ui-monospace, monospace; color: #fff; }
  #help { color: #999; font-size: 12px; }
  kbd { border: 1px solid #555; border-radius: 3px; padding: 0 3px; }
</style>
</head>
<body>
<img id="picture" src="/stream.mjpg" alt="bicubic (left) and CNN (right), live">
<div id="stats">connecting&hellip;</div>
<div id="help">""" + _KEY_HELP + """ &middot; in the split layout, click the picture to move the line</div>
<script>
const stats = document.getElementById("stats");
let layout = "side";
async function refresh() {
  try {
    const s = await (await fetch("/stats", {cache: "no-store"})).json();
    layout = s.layout;
    stats.textContent = [
      `${s.model} x${s.scale}`, `${s.backend} ${s.device} ${s.precision}`,
      `${s.fps.toFixed(1)} fps`, `latency ${s.latency_ms.toFixed(0)} ms`, `skipped ${s.skipped}`,
      s.input_size ? `${s.input_size.join("x")} -> ${s.output_size.join("x")}` : "",
      s.paused ? "paused" : "", s.ended ? "source ended" : "", s.message,
    ].filter(Boolean).join(" | ");
  } catch (e) {
    stats.textContent = "preview stopped";
    return;
  }
  setTimeout(refresh, 500);
}
refresh();
document.addEventListener("keydown", (e) => {
  if (["q", " ", "s", "m", "v", "[", "]"].includes(e.key)) {
    e.preventDefault();
    fetch("/key?k=" + encodeURIComponent(e.key), {method: "POST"});
  }
});
document.getElementById("picture").addEventListener("click", (e) => {
  if (layout !== "split") return;
  const r = e.target.getBoundingClientRect();
  fetch("/split?x=" + ((e.clientX - r.left) / r.width).toFixed(3), {method: "POST"});
});
</script>
</body>
</html>
"""
