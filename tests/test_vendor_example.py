"""The vendor example of docs/vendors.md runs as a vendor would run it: its own pytest
process, asyncssh and openssl only, against ``noemie-sim serve``."""

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "test_vendor_ps.py"


def test_the_vendor_example_passes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "import noemie_sim" not in EXAMPLE.read_text()  # the boundary a vendor sees
