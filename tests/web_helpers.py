"""A noemie-sim command with ``--web``, run as its users run it (a process of its own), and
the address it prints. Waits are on the process's own output and on the API's answers, never
on a clock."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
_ADDRESS = re.compile(r"live page and HTTP API: (http://[0-9.]+:\d+/)")
#: Debian's Chromium headless here: no sandbox (root), no background connections (a closed
#: network refuses them)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


class Served:
    """A running command, its printed lines so far, its API's address and an HTTP client
    without timeouts (an advance of the clock lasts as long as the run needs)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:  # until the address is printed (or the process ends)
            self.lines.append(line)
            match = _ADDRESS.search(line)
            if match:
                self.url = match.group(1)
                break
        else:
            raise AssertionError("the command ended without serving:\n" + "".join(self.lines))
        # a program sending JSON, as the API asks of whatever changes the run
        self.http = httpx.Client(
            base_url=self.url, timeout=None, headers={"Content-Type": "application/json"}
        )
        # what it prints next is kept by a thread: a full pipe would block the command
        self._printed = threading.Condition()
        self._ended = False
        #: other clients a test opened on it, closed with it
        self.closing: list[httpx.Client] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._printed:
                self.lines.append(line)
                self._printed.notify_all()
        with self._printed:
            self._ended = True
            self._printed.notify_all()

    def wait_for_line(self, text: str) -> str:
        """The first printed line holding ``text``, once printed (AssertionError if the
        command ends without printing it)."""
        with self._printed:
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                if self._ended:
                    raise AssertionError(f"never printed {text!r}:\n" + "".join(self.lines))
                self._printed.wait()

    def wait(self) -> int:
        """The exit code, once the command has ended (after ``POST /api/stop``)."""
        code = self.process.wait()
        self._reader.join()
        return code


@contextmanager
def serving(*args: str) -> Iterator[Served]:
    """``noemie-sim ARGS`` (with ``--web --port 0`` added) while the context is open; stopped
    through the API at the end if it still runs."""
    command = [sys.executable, "-c", "import sys; from noemie_sim.scenarios.cli import main; "
               "sys.exit(main())", *args, "--web", "--port", "0"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)  # fmt: skip
    served: Served | None = None
    try:
        served = Served(process)
        yield served
    finally:
        if process.poll() is None:
            if served is not None:
                try:
                    if served.http.post("/api/stop").status_code != 202:
                        process.kill()  # refused (a token the test did not give)
                except httpx.HTTPError:
                    process.kill()
            else:
                process.kill()
            process.wait()
        if served is not None:
            served.wait()
            served.http.close()
            for client in served.closing:
                client.close()
        if process.stdout is not None:
            process.stdout.close()


def chromium() -> str:
    """Debian's Chromium, or skip (fail in CI, which installs it)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs it")
        pytest.skip("chromium is not installed here")
    return browser


def artifacts() -> Path:
    folder = Path(os.environ.get("NOEMIE_SIM_ARTIFACTS", ROOT / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def http_receiver(
    reply: Callable[[Mapping[str, str], bytes], tuple[int, bytes]], content_type: str = ""
) -> Iterator[str]:
    """A small HTTP server on loopback, in a thread, while the context is open: each POST is
    answered with ``reply(headers, body)`` (status, body), the header names in lower
    case. Yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status, answer = reply({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
