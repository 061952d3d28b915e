"""docs/api.md's CI loop, run as written: a vendor drives ``serve --web --virtual`` with curl
alone (and the kit's sftp command for its upload)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_vendor_ci_loop_of_the_api_guide_runs_as_written(tmp_path: Path) -> None:
    for tool in ("curl", "sftp"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is not installed: .ci/run installs it")
            pytest.skip(f"{tool} is not installed here")
    guide = (ROOT / "docs" / "api.md").read_text()
    script = re.search(r"## A vendor's CI loop.*?```sh\n(.*?)```", guide, re.S)
    assert script is not None
    port = _free_port()
    text = "set -eu\n" + script.group(1).replace("8750", str(port))
    bin_dir = str(Path(sys.executable).parent)  # noemie-sim, installed beside this Python
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", text], cwd=tmp_path, env=env, capture_output=True,
                          text=True)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output + (tmp_path / "serve.log").read_text()
    # the ARL came back for the lot uploaded, and the verdict was read, then the exit code
    arl = (tmp_path / "arl.json").read_text()
    assert '"kind":"arl"' in arl
    assert '"until_event"' not in output and '"event":{' in output
    verdict = re.search(r'"verdict":"(\w+)","exit_code":(\d)', output)
    assert verdict is not None, output
    expected = "verdict: pass" if verdict.group(2) == "0" else f"exit code {verdict.group(2)}"
    assert expected in output
    assert "file-received" in (tmp_path / "run" / "journal.sqlite").read_bytes().decode("latin-1")
