"""docs/api.md's CI loop, run as written: a vendor drives ``serve --web --virtual`` with curl
alone (and the kit's sftp command for its uploads and fetches), and its exit code is the
verdict: exactly 0 for the loop as written."""

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
    text = "set -eu\n" + script.group(1)
    text = text.replace("8750", str(_free_port())).replace("2222", str(_free_port()))
    bin_dir = str(Path(sys.executable).parent)  # noemie-sim, installed beside this Python
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", text], cwd=tmp_path, env=env, capture_output=True,
                          text=True)  # fmt: skip
    output = done.stdout + done.stderr
    log = (tmp_path / "serve.log").read_text()
    # the loop as written passes: the PS fetched every file, so no lost file, no finding
    assert "verdict: pass" in output, output + log
    assert re.search(r'"verdict":"pass","exit_code":0', output), output
    assert done.returncode == 0, output + log
    # the ARL came back for the lot uploaded, was fetched over SFTP, and explained by the API
    arl = (tmp_path / "arl.json").read_text()
    assert '"kind":"arl"' in arl
    fetched = sorted(p.name for p in tmp_path.glob("*.p7m") if p.name != "lot.p7m")
    assert any(n.startswith("ARL-") for n in fetched) and any(n.startswith("NOE-") for n in fetched)
    assert "retour/ARL-" in log and "fetched" in log  # serve's log told what the PS did
