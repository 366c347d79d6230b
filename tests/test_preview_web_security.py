"""vsr/preview/web.py as an attacker meets it: forged requests, bad parameters, held connections.

The server runs in-process on 127.0.0.1 with a fake source and runner (no model), so each test
takes a fraction of a second; every socket is loopback and every wait is bounded.
"""
from __future__ import annotations

import http.client
import json
import re
import socket
import time

import pytest

from tests.test_preview_live import FakeRunner, FakeSource
from vsr.preview.live import LivePreview
from vsr.preview.web import PreviewServer, _HostCheck


@pytest.fixture
def served(tmp_path):
    """(server, preview, snapshot folder): a running preview on a free loopback port, small limits."""
    snapshots = tmp_path / "snaps"
    preview = LivePreview(FakeSource(count=10**6, interval_s=0.01), FakeRunner(scale=2), "fake", snapshot_dir=snapshots).start()
    server = PreviewServer("127.0.0.1", 0, max_viewers=2, max_connections=6, request_timeout_s=1.0)
    server.start(preview)
    yield server, preview, snapshots
    preview.stop()
    server.close()


def request(server, method, path, headers=None, timeout=5.0):
    """(status, body) of one request; ``headers`` may replace Host."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        headers = dict(headers or {})
        conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def page_token(server) -> str:
    status, body = request(server, "GET", "/")
    assert status == 200
    return re.search(r'const token = "([A-Za-z0-9_-]+)"', body.decode())[1]


def own(server, **extra) -> dict:
    """The headers the preview's own page sends."""
    return {"Host": f"127.0.0.1:{server.port}", "Origin": f"http://127.0.0.1:{server.port}", **extra}


def wait_for_picture(server):
    assert request(server, "GET", "/frame.jpg")[0] == 200


# --- item 10: cross-site request forgery


def test_page_carries_the_token_and_the_page_s_own_requests_work(served):
    server, preview, snapshots = served
    token = page_token(server)
    assert token == server.token and len(token) >= 24
    wait_for_picture(server)
    status, body = request(server, "POST", "/key?k=s", own(server, **{"X-Vsr-Token": token}))
    assert status == 200 and json.loads(body)["done"].startswith("saved ")
    assert len(list(snapshots.glob("*.png"))) == 1  # into the named folder, nowhere else


@pytest.mark.parametrize("forgery", ["other_origin", "no_token", "wrong_token", "wrong_host", "rebound_name"])
@pytest.mark.parametrize("key", ["s", "q"])
def test_forged_requests_are_refused_with_no_side_effect(served, tmp_path, monkeypatch, forgery, key):
    server, preview, snapshots = served
    monkeypatch.chdir(tmp_path)
    token = page_token(server)
    headers = own(server, **{"X-Vsr-Token": token})
    if forgery == "other_origin":
        headers["Origin"] = "http://evil.example"
    elif forgery == "no_token":
        del headers["X-Vsr-Token"]
    elif forgery == "wrong_token":
        headers["X-Vsr-Token"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    elif forgery == "wrong_host":
        headers["Host"] = f"127.0.0.1:{server.port + 1 if server.port < 65535 else 1}"
    else:  # DNS rebinding: a name of the attacker's that resolves to 127.0.0.1
        headers["Host"] = f"evil.example:{server.port}"
        headers["Origin"] = "http://" + headers["Host"]
    wait_for_picture(server)
    status, _ = request(server, "POST", f"/key?k={key}", headers)
    assert status == 403
    time.sleep(0.1)
    assert not preview.finished
    assert not snapshots.exists() and list(tmp_path.rglob("*.png")) == []
    assert request(server, "GET", "/stats")[0] == 200


def test_reading_through_a_rebound_name_is_refused(served):
    server, _, _ = served
    for path in ("/stats", "/frame.jpg", "/stream.mjpg", "/"):
        assert request(server, "GET", path, {"Host": f"evil.example:{server.port}"})[0] == 403


def test_host_check_knows_loopback_wildcard_and_named_addresses():
    loop = _HostCheck("127.0.0.1", 8080)
    assert loop.loopback and loop.allows("127.0.0.1:8080") and loop.allows("localhost:8080") and loop.allows("[::1]:8080")
    assert not loop.allows("127.0.0.1:8081") and not loop.allows("evil.example:8080") and not loop.allows(None)
    wild = _HostCheck("0.0.0.0", 8080)
    assert not wild.loopback and wild.allows("192.168.1.20:8080") and not wild.allows("evil.example:8080")


def test_listening_beyond_loopback_warns_that_anyone_can_control_it(cli, tmp_path, monkeypatch):
    from vsr.preview import web

    bound = []

    class LoopbackOnly(web.PreviewServer):  # binds 127.0.0.1 whatever it is asked, but judges the address asked for
        def __init__(self, host, port, **kw):
            bound.append(host)
            super().__init__("127.0.0.1", port, **kw)
            self.httpd.host_check = web._HostCheck(host, self.port)

    monkeypatch.setattr(web, "PreviewServer", LoopbackOnly)
    code, err = cli("preview", "--source", tmp_path / "missing.mp4", "--web", "0.0.0.0:0")
    assert bound == ["0.0.0.0"] and code != 0
    assert "anyone on the network can watch and control" in err.splitlines()[0]
    code, err = cli("preview", "--source", tmp_path / "missing.mp4", "--web", "127.0.0.1:0")
    assert "anyone" not in err


# --- item 11: every parameter validated


@pytest.mark.parametrize("query", ["x=nan", "x=inf", "x=-inf", "x=-0.1", "x=1.5", "x=", "x=abc", "x=0.5&x=0.6", "x=0.5&y=1", "y=0.5", "x=1e999", "x=%00"])
def test_bad_split_is_400_and_the_stream_keeps_working(served, query):
    server, preview, _ = served
    token = page_token(server)
    request(server, "POST", "/key?k=v", own(server, **{"X-Vsr-Token": token}))  # the split layout
    status, body = request(server, "POST", f"/split?{query}", own(server, **{"X-Vsr-Token": token}))
    assert status == 400 and b"Traceback" not in body
    for _ in range(3):
        assert request(server, "GET", "/frame.jpg")[0] == 200
    assert request(server, "POST", "/split?x=0.25", own(server, **{"X-Vsr-Token": token}))[0] == 200


@pytest.mark.parametrize("query", ["k=x", "k=", "k=s&k=q", "k=s&z=1", "", "k=qq"])
def test_bad_key_is_400_with_no_side_effect(served, query):
    server, preview, snapshots = served
    status, _ = request(server, "POST", f"/key?{query}", own(server, **{"X-Vsr-Token": page_token(server)}))
    assert status == 400 and not preview.finished and not snapshots.exists()


def test_split_refuses_non_finite_positions_itself():
    preview = LivePreview(FakeSource(count=1), FakeRunner(), "fake")
    with pytest.raises(ValueError):
        preview.set_split(float("nan"))
    assert preview.set_split(0.3) == 0.3


# --- item 12: bounded viewers, connections and request time


def open_stream(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(f"GET /stream.mjpg HTTP/1.0\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
    return sock


def status_of(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(256)
        if not chunk:
            break
        head += chunk
    return int(head.split()[1])


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes ``sock`` within ``seconds`` (reading whatever it sends first)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except (socket.timeout, ConnectionResetError):
        return False
    return False


def test_viewers_past_the_limit_get_a_clear_503_and_stats_still_answer(served):
    server, _, _ = served
    streams = [open_stream(server) for _ in range(2)]
    try:
        assert [status_of(s) for s in streams] == [200, 200]
        status, body = request(server, "GET", "/stream.mjpg")
        assert status == 503 and b"viewers" in body
        assert request(server, "GET", "/stats")[0] == 200
    finally:
        for s in streams:
            s.close()
    time.sleep(0.3)
    extra = open_stream(server)
    assert status_of(extra) == 200  # a closed viewer frees its place
    extra.close()


def test_idle_and_half_sent_requests_are_cut_and_stats_answer_again(served):
    server, _, _ = served
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3)]
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    slow.sendall(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1")  # and never the rest
    started = time.monotonic()
    try:
        assert request(server, "GET", "/stats")[0] == 200  # 4 held, 6 allowed
        assert all(closed_within(s, 4.0) for s in [*idle, slow])
        assert time.monotonic() - started < 4.0
    finally:
        for s in [*idle, slow]:
            s.close()


def test_trickled_headers_do_not_extend_the_deadline(served):
    server, _, _ = served
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    started = time.monotonic()
    try:
        sock.sendall(b"GET /stats HTTP/1.1\r\n")
        cut = False
        for i in range(20):  # one header every 0.2 s, for up to 4 s
            try:
                sock.sendall(f"X-Pad-{i}: 1\r\n".encode())
            except OSError:
                cut = True
                break
            time.sleep(0.2)
        assert cut or closed_within(sock, 1.0)
        assert time.monotonic() - started < 3.0
    finally:
        sock.close()


def test_held_connections_make_room_so_stats_answer_at_once(served):
    server, _, _ = served
    held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(6)]  # every place
    try:
        time.sleep(0.2)
        started = time.monotonic()
        assert request(server, "GET", "/stats")[0] == 200
        assert time.monotonic() - started < 1.0
        assert closed_within(held[0], 1.0)  # the one that waited longest made room
    finally:
        for s in held:
            s.close()


def test_connections_past_the_limit_are_refused_at_once_when_none_can_make_room(tmp_path):
    preview = LivePreview(FakeSource(count=10**6, interval_s=0.01), FakeRunner(scale=2), "fake", snapshot_dir=tmp_path).start()
    server = PreviewServer("127.0.0.1", 0, max_viewers=5, max_connections=3, request_timeout_s=1.0)
    server.start(preview)
    streams = [open_stream(server) for _ in range(3)]
    try:
        assert [status_of(s) for s in streams] == [200, 200, 200]
        started = time.monotonic()
        status, body = request(server, "GET", "/stats")
        assert status == 503 and b"as many connections as it allows" in body
        assert time.monotonic() - started < 1.0
    finally:
        for s in streams:
            s.close()
        time.sleep(0.3)
        assert request(server, "GET", "/stats")[0] == 200  # closed viewers free their places
        preview.stop()
        server.close()
