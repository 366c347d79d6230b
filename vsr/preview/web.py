"""The preview as a local web page: ``/`` (page), ``/stream.mjpg`` (MJPEG), ``/stats`` (JSON).

Also ``/frame.jpg`` (the newest picture, once) and ``POST /key?k=KEY`` / ``POST /split?x=0.4``, which
the page sends for the same keys the window takes. Served by the standard library's threading HTTP
server; pictures are JPEG-encoded by Pillow, once per picture however many viewers there are.

Any web page the user visits can make the browser send requests to a local port, so the server
trusts nothing a browser sends on its own: every request must name this server in ``Host`` (a
DNS name pointing here is refused, so DNS rebinding cannot read the stream), a request with an
``Origin`` must come from this server's own page, and a request that changes anything (``POST``)
must carry the session's token, which only the page served here knows (``X-Vsr-Token``). Viewers,
connections and the time a client may take to send its request are bounded (503 past a bound,
the connection closed past the time; when every place is taken, the connection that has waited
longest for its request makes room), so held connections cannot take every thread or /stats.
"""
from __future__ import annotations

import errno
import io
import ipaddress
import json
import math
import re
import secrets
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from .keys import KEYS
from .live import LivePreview

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


# Bounds on what clients may hold: MJPEG viewers at once, connections at once (viewers included),
# and seconds to send a whole request (request line and headers) or to take a stream part.
MAX_VIEWERS = 8
MAX_CONNECTIONS = 32
REQUEST_TIMEOUT_S = 5.0
SEND_TIMEOUT_S = 10.0
TOKEN_HEADER = "X-Vsr-Token"
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # an open MJPEG stream must not keep the process alive
    allow_reuse_address = True
    request_queue_size = 16

    def setup_limits(self, max_viewers: int, max_connections: int, request_timeout_s: float) -> None:
        self.max_viewers = max_viewers
        self.max_connections = max_connections
        self.request_timeout_s = request_timeout_s
        self.lock = threading.Lock()
        self.connections = 0
        self.viewers = 0
        self.pending: dict[socket.socket, float] = {}  # connections still sending their request -> deadline
        self.refused = 0

    def process_request(self, request, client_address):
        evicted = None
        with self.lock:
            full = self.connections >= self.max_connections
            if full and self.pending:
                # Every place is taken and some are still waiting for their request: the one that
                # has waited longest makes room, so held sockets cannot keep /stats from answering
                # (a real client sends its request within milliseconds of connecting).
                evicted = min(self.pending, key=self.pending.get)
                del self.pending[evicted]
                full = False
            if not full:
                self.connections += 1
                self.pending[request] = time.monotonic() + self.request_timeout_s
            else:
                self.refused += 1
        if evicted is not None:
            _cut(evicted)
        if full:  # answered here, on the accepting thread, without reading: a few bytes, never blocking
            _refuse_busy(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._release(request)
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request) -> None:
        with self.lock:
            self.connections -= 1
            self.pending.pop(request, None)

    def request_read(self, request) -> None:
        """The request line and headers are in: this connection is no longer at risk of stalling."""
        with self.lock:
            self.pending.pop(request, None)

    def reap(self) -> None:
        """Cut the connections whose request is not in by its deadline (idle or half-sent)."""
        now = time.monotonic()
        with self.lock:
            late = [sock for sock, deadline in self.pending.items() if deadline <= now]
            for sock in late:
                del self.pending[sock]
        for sock in late:
            _cut(sock)

    def handle_error(self, request, client_address):
        pass  # a client that went away or sent nonsense: nothing for the preview's user to read


def _cut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # the handler's read ends; it closes the socket
    except OSError:
        pass


def _refuse_busy(sock: socket.socket) -> None:
    body = b"the preview is serving as many connections as it allows; try again shortly\n"
    try:
        sock.setblocking(False)
        sock.send(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 5\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    except OSError:
        pass
    finally:
        sock.close()


class PreviewServer:
    """An HTTP server bound to ``host``:``port`` (0: any free port), ready to :meth:`serve` a preview.

    Binding happens here, so a port in use is reported before the model is loaded. ``token`` is
    the session's secret for state-changing requests (made here unless given); ``public`` tells
    whether the address reaches beyond this machine (the CLI warns then).
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = 8080,
        *,
        max_viewers: int = MAX_VIEWERS,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        token: str | None = None,
    ):
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
        self.httpd.setup_limits(max_viewers, max_connections, request_timeout_s)
        self.httpd.preview = None
        self.httpd.feed = None
        self.httpd.token = token or secrets.token_urlsafe(24)
        self.httpd.host_check = _HostCheck(host, self.httpd.server_address[1])
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.host = host
        self.port = self.httpd.server_address[1]

    @property
    def token(self) -> str:
        return self.httpd.token

    @property
    def public(self) -> bool:
        """True unless the server listens on a loopback address only."""
        return not self.httpd.host_check.loopback

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, preview: LivePreview) -> None:
        """Start serving ``preview`` in the background (see :meth:`serve`)."""
        self.httpd.preview = preview
        self.httpd.feed = _JpegFeed(preview)
        self._threads = [
            threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="vsr-preview-web", daemon=True),
            threading.Thread(target=self._reap, name="vsr-preview-reaper", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _reap(self) -> None:
        while not self._stop.wait(min(0.25, self.httpd.request_timeout_s / 4)):
            self.httpd.reap()

    def serve(self, preview: LivePreview) -> None:
        """Serve ``preview`` until it is over (source ended, ``q``) or Ctrl-C, then close the port."""
        self.start(preview)
        try:
            while not preview.wait(0.2):
                pass
        finally:
            self.close()

    def close(self) -> None:
        """Stop serving (if started) and release the port."""
        self._stop.set()
        if self._threads:
            self.httpd.shutdown()
            self._threads = []
        self.httpd.server_close()


class _HostCheck:
    """Which ``Host`` headers name this server: its port, and a name that cannot be rebound.

    A server on a loopback address answers to the loopback names; one on a wildcard address
    (0.0.0.0, ::) to any IP literal and this machine's names; one on a named address to that name.
    A DNS name that merely resolves here (``evil.example`` -> 127.0.0.1) is refused.
    """

    def __init__(self, host: str, port: int):
        self.port = port
        name = host.strip("[]").lower()
        self.wildcard = name in ("", "0.0.0.0", "::")
        try:
            self.loopback = name == "localhost" or ipaddress.ip_address(name).is_loopback
        except ValueError:
            self.loopback = False
        self.names = {name} | (_LOOPBACK_NAMES if self.loopback or self.wildcard else set())
        if self.wildcard:
            machine = socket.gethostname().lower()
            self.names |= {machine, f"{machine}.local", socket.getfqdn().lower()}

    def allows(self, header: str | None) -> bool:
        match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]+)(?::(\d{1,5}))?", (header or "").strip())
        if not match or int(match[2] or 80) != self.port:
            return False
        name = match[1].strip("[]").lower()
        if name in self.names:
            return True
        if self.wildcard:
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False


class _JpegFeed:
    """The newest picture as JPEG bytes, encoded once per picture."""

    def __init__(self, preview: LivePreview):
        self.preview = preview
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], bytes] | None = None

    def next(self, after=None, timeout: float | None = None) -> tuple[tuple[int, int], bytes] | None:
        view = self.preview.view(after, timeout, status_overlay=False)  # the page shows the stats itself
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

    def setup(self):
        super().setup()
        self.connection.settimeout(SEND_TIMEOUT_S)  # a viewer that stops reading is let go

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # one line per request would bury the preview's own output

    def parse_request(self) -> bool:
        ok = super().parse_request()
        self.server.request_read(self.request)
        return ok

    def _trusted(self, changes_state: bool) -> bool:
        """Whether the request may go on; if not, a 403 has been sent."""
        host = self.headers.get("Host")
        if not self.server.host_check.allows(host):
            self._send(HTTPStatus.FORBIDDEN, "text/plain", b"this server answers only to its own address (Host): open it by its IP address or localhost\n")
            return False
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host.strip().lower()}":
            self._send(HTTPStatus.FORBIDDEN, "text/plain", b"requests from other sites are refused (Origin)\n")
            return False
        if changes_state and not secrets.compare_digest(self.headers.get(TOKEN_HEADER, "").encode(), self.server.token.encode()):
            self._send(HTTPStatus.FORBIDDEN, "text/plain", f"a {TOKEN_HEADER} header from the preview's page is needed\n".encode())
            return False
        return True

    def do_GET(self):
        path = urlsplit(self.path).path
        try:
            if not self._trusted(changes_state=False):
                return
            if path == "/":
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", page(self.server.token).encode())
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
        except OSError:
            pass  # the viewer went away, or stopped reading

    def do_POST(self):
        url = urlsplit(self.path)
        preview = self.server.preview
        try:
            if not self._trusted(changes_state=True):
                return
            try:
                query = parse_qs(url.query, keep_blank_values=True, strict_parsing=True, max_num_fields=4)
            except ValueError:
                query = None
            if url.path == "/key" and query is not None and set(query) == {"k"} and len(query["k"]) == 1 and query["k"][0] in KEYS:
                done = preview.handle_key(query["k"][0])
                self._send_json({"done": done, **preview.stats().as_dict()})
            elif url.path == "/split" and query is not None and set(query) == {"x"} and len(query["x"]) == 1 and _fraction(query["x"][0]) is not None:
                preview.set_split(_fraction(query["x"][0]))
                self._send_json(preview.stats().as_dict())
            elif url.path in ("/key", "/split"):
                self._send(HTTPStatus.BAD_REQUEST, "text/plain", b"POST /key?k=KEY (one of the preview's keys) or /split?x=FRACTION (0 to 1)\n")
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")
        except OSError:
            pass

    def _stream(self):
        server = self.server
        with server.lock:
            admitted = server.viewers < server.max_viewers
            if admitted:
                server.viewers += 1
        if not admitted:
            text = f"the preview already has {server.max_viewers} viewers, as many as it allows; close one and reload\n"
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", text.encode())
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            key = None
            while True:
                got = server.feed.next(key, timeout=1.0)
                if got is None:
                    if server.preview.finished:
                        return
                    continue
                key, jpeg = got
                self.wfile.write(f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                self.wfile.flush()
        finally:
            with server.lock:
                server.viewers -= 1

    def _send_json(self, data: dict):
        self._send(HTTPStatus.OK, "application/json", json.dumps(data).encode())

    def _send(self, status, content_type: str, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def _fraction(text: str) -> float | None:
    """``text`` as a finite number from 0 to 1, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


_KEY_HELP = " &middot; ".join(f"<kbd>{'space' if k == ' ' else k}</kbd> {what}" for k, what in KEYS.items())

# The page shows each picture at one picture pixel per screen pixel (scrolling when it is larger
# than the window, never shrunk: shrinking would hide exactly the detail being compared), one set
# of stats (here, not also drawn into the picture), and the models with the ones that cannot run.
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>vsr preview</title>
<style>
  body { margin: 0; padding: 12px; background: #181818; color: #ddd; font: 14px system-ui, sans-serif; }
  #viewport { overflow: auto; max-width: 100%; max-height: calc(100vh - 130px); }
  #picture { display: block; max-width: none; max-height: none; image-rendering: pixelated; cursor: crosshair; }
  #stats { margin: 8px 0 4px; font: 14px ui-monospace, monospace; color: #fff; }
  #models { margin: 4px 0; }
  #models .current { color: #fff; font-weight: bold; }
  #models .unavailable { color: #999; }
  #notice { margin: 4px 0; color: #fc6; }
  #notice:empty { display: none; }
  #help { color: #999; font-size: 12px; }
  kbd { border: 1px solid #555; border-radius: 3px; padding: 0 3px; }
  button { font: inherit; }
</style>
</head>
<body>
<div id="viewport"><img id="picture" src="/stream.mjpg" alt="bicubic (left) and CNN (right), live"></div>
<div id="stats">connecting&hellip;</div>
<div id="models"></div>
<div id="notice" role="status"></div>
<div id="help">""" + _KEY_HELP + """ &middot; in the split layout, click the picture to move the line</div>
<script>
const token = "__TOKEN__";  // this session's secret: state-changing requests carry it
function post(url) { return fetch(url, {method: "POST", headers: {"X-Vsr-Token": token}}); }
const picture = document.getElementById("picture");
const stats = document.getElementById("stats");
const models = document.getElementById("models");
const notice = document.getElementById("notice");
let layout = "side";
function oneToOne() {
  // CSS pixels are devicePixelRatio screen pixels: size the picture so each of its pixels is one on screen.
  if (picture.naturalWidth) picture.style.width = (picture.naturalWidth / window.devicePixelRatio) + "px";
}
function showModels(s) {
  models.replaceChildren(document.createTextNode("models: "));
  s.models.forEach((name, i) => {
    const item = document.createElement("span");
    const unavailable = s.unavailable_models.includes(name);
    item.className = name === s.model ? "current" : unavailable ? "unavailable" : "";
    item.textContent = name + (name === s.model ? " (showing)" : unavailable ? " (no usable weights)" : "");
    if (i) models.append(" \u00b7 ");
    models.append(item);
  });
  if (s.models.length > 1) {
    const next = document.createElement("button");
    next.textContent = "next model (m)";
    next.onclick = () => post("/key?k=m").then(refreshNow);
    models.append(" ", next);
  }
}
function render(s) {
  layout = s.layout;
  stats.textContent = [
    `${s.model} x${s.scale}`, `${s.backend} ${s.device} ${s.precision}`,
    `${s.fps.toFixed(1)} fps`, `latency ${s.latency_ms.toFixed(0)} ms`, `skipped ${s.skipped}`,
    s.input_size ? `${s.input_size.join("x")} -> ${s.output_size.join("x")}` : "",
    s.paused ? "paused" : "", s.ended ? "source ended" : "",
  ].filter(Boolean).join(" | ");
  showModels(s);
  notice.textContent = s.message;
  oneToOne();
}
async function refreshNow() {
  render(await (await fetch("/stats", {cache: "no-store"})).json());
}
async function refresh() {
  try {
    await refreshNow();
  } catch (e) {
    stats.textContent = "preview stopped";
    return;
  }
  setTimeout(refresh, 500);
}
picture.addEventListener("load", oneToOne);
refresh();
document.addEventListener("keydown", (e) => {
  if (["q", " ", "s", "m", "v", "[", "]"].includes(e.key)) {
    e.preventDefault();
    post("/key?k=" + encodeURIComponent(e.key)).then(refreshNow).catch(() => {});
  }
});
picture.addEventListener("click", (e) => {
  if (layout !== "split") return;
  const r = e.target.getBoundingClientRect();
  post("/split?x=" + ((e.clientX - r.left) / r.width).toFixed(3));
});
</script>
</body>
</html>
"""


def page(token: str) -> str:
    """The page, with the session's token in it (url-safe characters only, so no escaping needed)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise ValueError("the token must be url-safe base64")
    return _PAGE.replace("__TOKEN__", token)
