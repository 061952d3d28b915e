"""The HTTP API against hostile pages and clients (docs/security.md, "The HTTP API"): a
cross-site "simple" request, a foreign Host (DNS rebinding), a body too large, JSON nested too
deep, too many event streams, and a server bound beyond loopback without its token. Each is
refused, and the run is untouched by it."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from noemie_sim.scenarios.web.guard import MAX_BODY, MAX_STREAMS

from .web_helpers import serving


def _raw(url: str, request: bytes) -> bytes:
    """One HTTP exchange over a plain socket (what a hostile client sends, byte for byte)."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_the_api_answers_this_machines_pages_only(tmp_path: Path) -> None:
    with serving("run", "demo", "--paused", "--out", str(tmp_path / "run")) as served:
        url = served.url.rstrip("/")
        # no JSON header: what a browser's form or a hostile script sends
        plain = httpx.Client(base_url=url, timeout=None)
        served.closing.append(plain)
        evil = {"Origin": "http://evil.example"}
        # a "simple" cross-site POST, which a browser sends without asking: refused
        for path in ("/api/faults", "/api/clock/resume", "/api/clock/advance", "/api/stop"):
            answer = plain.post(path, content=b'{"kind": "revoke-certificate"}',
                                headers={**evil, "Content-Type": "text/plain"})  # fmt: skip
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["error"]["code"] == "cross-site-refused"
        # JSON from another site, told by Origin or by Sec-Fetch-Site: refused
        assert served.http.post("/api/stop", json={}, headers=evil).status_code == 403
        fetch_site = {"Sec-Fetch-Site": "cross-site"}
        assert served.http.post("/api/stop", json={}, headers=fetch_site).status_code == 403
        # no JSON content type, even without Origin: refused
        assert plain.post("/api/clock/resume").status_code == 403
        # the run was not touched: still paused, nothing injected, not stopped
        clock = served.http.get("/api/clock").json()
        assert clock["paused"] and clock["running"] and clock["state"] == "paused"
        assert served.http.get("/api/events?kind=fault").json()["events"] == []
        # this server's own page may: same origin, JSON
        mine = {"Origin": url, "Sec-Fetch-Site": "same-origin"}
        assert served.http.post("/api/clock/pause", json={}, headers=mine).status_code == 200

        # a foreign Host (a DNS-rebinding page): refused, the kits and files included
        for path in ("/api/network", "/api/kits", "/api/files", "/"):
            answer = plain.get(path, headers={"Host": "evil.example"})
            assert answer.status_code == 403, (path, answer.text)
            assert answer.json()["error"]["code"] == "host-not-allowed"
        assert plain.get("/api/clock", headers={"Host": "localhost"}).status_code == 200

        # a body over the limit: 413 before it is read whole, said by its length or counted
        port = urlsplit(url).port
        head = (f"POST /api/faults HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/json\r\n")  # fmt: skip
        huge = _raw(url, (head + f"Content-Length: {64 * 1024 * 1024}\r\n\r\n").encode() + b"{")
        assert huge.startswith(b"HTTP/1.1 413"), huge[:200]
        chunk = b"x" * (256 * 1024)
        chunked = (head + "Transfer-Encoding: chunked\r\n\r\n").encode()
        chunked += b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(5)) + b"0\r\n\r\n"
        assert 5 * len(chunk) > MAX_BODY
        assert _raw(url, chunked).startswith(b"HTTP/1.1 413")
        # JSON nested 100 000 deep: 400, not a crash
        deep = served.http.post("/api/faults", content=b"[" * 100_000 + b"]" * 100_000)
        assert deep.status_code == 400 and "nests too deeply" in deep.text

        # event streams: a cap, then 503 with Retry-After
        streams = []
        stream_request = (f"GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          "\r\n").encode()  # fmt: skip
        where = urlsplit(url)
        for _ in range(MAX_STREAMS):
            sock = socket.create_connection((where.hostname, where.port))
            sock.sendall(stream_request)
            assert sock.recv(12) == b"HTTP/1.1 200"
            streams.append(sock)
        one_more = httpx.get(f"{url}/api/events/stream", timeout=None)
        assert one_more.status_code == 503 and one_more.headers["retry-after"]
        for sock in streams:
            sock.close()
        assert served.http.post("/api/stop", json={}).status_code == 202
    # stopped before its end
    assert served.process.returncode == 3


def test_beyond_loopback_every_request_needs_the_token(tmp_path: Path) -> None:
    token = "a-test-token-of-the-vendor-ci"
    with serving("run", "demo", "--paused", "--host", "0.0.0.0", "--token", token,
                 "--out", str(tmp_path / "run")) as served:  # fmt: skip
        printed = served.wait_for_line("API token")
        assert token in printed
        url = served.url.rstrip("/").replace("0.0.0.0", "127.0.0.1")
        anyone = httpx.Client(base_url=url, timeout=None)
        served.closing.append(anyone)
        refused = anyone.get("/api/clock")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "token-required"
        wrong = {"Authorization": "Bearer wrong"}
        assert anyone.get("/api/clock", headers=wrong).status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert anyone.get("/api/clock", headers=bearer).status_code == 200
        # a browser opens the page once with ?token=: it gets a cookie for the rest
        page = anyone.get(f"/?token={token}")
        assert page.status_code == 200 and "noemie_sim_token" in page.headers["set-cookie"]
        assert "HttpOnly" in page.headers["set-cookie"]
        assert anyone.get("/api/clock").status_code == 200  # the client kept the cookie
        stop = httpx.post(f"{url}/api/stop", json={}, headers=bearer, timeout=None)
        assert stop.status_code == 202
