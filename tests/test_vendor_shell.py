"""docs/examples/vendor_ps.sh, a PS's CI job in shell with sftp, openssl, curl and jq only,
run as a vendor runs it: its exit code is serve's, the verdict, asserted exactly for the
conforming job (0), for a PS that never fetches its files (1, the check named) and for a job
stopped one simulated hour in (3)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "examples" / "vendor_ps.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def needs_the_shell_tools() -> None:
    """The peers a vendor's shell job uses: a failure under CI (.ci/run installs them), a
    skip only on a developer's machine without them."""
    for tool in ("curl", "sftp", "openssl", "jq"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is not installed: .ci/run installs it")
            pytest.skip(f"{tool} is not installed here")


def _run(folder: Path, **variant: str) -> tuple[int, str, dict[str, str]]:
    needs_the_shell_tools()
    env = {
        **os.environ,
        "NOEMIE_SIM": str(Path(sys.executable).with_name("noemie-sim")),
        "API_PORT": str(_free_port()),
        "SFTP_PORT": str(_free_port()),
        **variant,
    }
    done = subprocess.run(["bash", str(SCRIPT)], cwd=folder, env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    log = (folder / "serve.log").read_text() if (folder / "serve.log").exists() else ""
    return done.returncode, done.stdout + done.stderr + log, env


def test_the_conforming_shell_ps_passes(tmp_path: Path) -> None:
    code, output, env = _run(tmp_path)
    assert code == 0, output
    assert "ARL status: P" in output and "verdict: pass (exit 0)" in output
    assert "cert.pem: OK" in output  # the certificates and CRLs checked at the real time
    assert "fetched NOE-" in output  # the NOEMIE return too, opened with its CRLs checked
    assert f"(SFTP port {env['SFTP_PORT']})" in output  # --sftp-port: the port asked for
    # serve's log, not a terminal: a line per thing that happened to the external PS
    log = (tmp_path / "serve.log").read_text()
    for said in ("received by the caisse", "ARL status P for file", "available in retour/",
                 "fetched", "removed"):  # fmt: skip
        assert said in log, log


def test_a_ps_that_never_fetches_fails_its_own_check(tmp_path: Path) -> None:
    code, output, _env = _run(tmp_path, FETCH="no")
    assert code == 1, output
    report = json.loads((tmp_path / "serve-run" / "report.json").read_text())
    (ps,) = [x["party"] for x in report["externals"]]
    # the one failed check is the PS's own; the network lost nothing
    assert report["failed"] == [f"conformance.{ps}.files-fetched"], report["failed"]
    assert f"failed: conformance.{ps}.files-fetched" in output
    assert report["figures"]["lost_files"] == 0
    (check,) = [c for c in report["checks"] if c["name"] == f"conformance.{ps}.files-fetched"]
    assert "ARL-" in check["message"] and "not fetched by the end of the run" in check["message"]


def test_a_job_stopped_early_is_never_a_pass(tmp_path: Path) -> None:
    code, output, _env = _run(tmp_path, STOP_EARLY="yes")
    assert code == 3, output
    assert "serve exited with 3" in output and "verdict: incomplete (exit 3)" in output
