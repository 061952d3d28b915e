"""A vendor's own test: an external PS against noemie-sim, written only with asyncssh's SFTP
client, the openssl command line and Python's own urllib for the HTTP API (no noemie-sim code
is imported).

Run it from a clone where noemie-sim is installed (see docs/vendors.md):

    .venv/bin/python -m pytest docs/examples/test_vendor_ps.py

It starts ``noemie-sim serve demo --external ps --web --virtual``: the simulated clock moves
only when the test says, so the test is deterministic and never races the network. It reads
the connection kit, seals the kit's sample lot with openssl, uploads it over SFTP as
``depot/NAME.part`` then renames it, advances the clock until the caisse sends the PS a file,
fetches and removes the ARL, opens it with openssl (CRLs checked at the real time), checks it
is positive; then, as a PS polls its mailbox, advances six simulated hours at a time and
fetches whatever arrives, runs to the end, and expects serve's exit code 0: the verdict pass.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncssh
import pytest

NOEMIE_SIM = str(Path(sys.executable).with_name("noemie-sim"))


def openssl(kit: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=kit, check=True, capture_output=True)


def call(api: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET, or POST a JSON body, to the API; the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method="GET" if data is None
                                     else "POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:  # an error status raises HTTPError
        result: dict[str, Any] = json.loads(answer.read())
        return result


async def api(base: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return await asyncio.to_thread(call, base, path, body)


async def fetch_all(sftp: asyncssh.SFTPClient, kit: Path) -> list[str]:
    """Fetch, remove and open every file of retour/; the first record of each."""
    firsts = []
    for name in sorted(await sftp.listdir("retour")):
        if name in (".", ".."):
            continue
        await sftp.get(f"retour/{name}", str(kit / "received.p7m"))
        await sftp.remove(f"retour/{name}")
        openssl(kit, "cms", "-decrypt", "-binary", "-inform", "DER", "-in", "received.p7m",
                "-inkey", "key.pem", "-recip", "cert.pem", "-out", "received.der")  # fmt: skip
        # trust.pem is the root and the CRLs in force: the signer's chain checked for
        # revocation at the real time
        openssl(kit, "cms", "-verify", "-binary", "-inform", "DER", "-in", "received.der",
                "-CAfile", "trust.pem", "-certfile", "cas.pem", "-crl_check_all",
                "-purpose", "any", "-out", "received.txt")  # fmt: skip
        firsts.append((kit / "received.txt").read_text("latin-1")[:128])
    return firsts


@pytest.mark.asyncio(loop_scope="function")
async def test_my_billing_software_conforms(tmp_path: Path) -> None:
    server = await asyncio.create_subprocess_exec(
        NOEMIE_SIM, "serve", "demo", "--external", "ps", "--web", "--virtual",
        "--out", str(tmp_path / "run"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert server.stdout is not None
    base = kit = None
    while kit is None:  # the server prints its address, then where the kit is
        line = (await server.stdout.readline()).decode()
        assert line, "the server stopped before writing the kit"
        if found := re.search(r"HTTP API: (http://\S+)/ ", line):
            base = found.group(1)
        if "connection kit" in line:
            kit = Path(line.split("connection kit", 1)[1].strip())
    assert base is not None
    connection = json.loads((kit / "connection.json").read_text())
    where = connection["servers"][0]
    party, caisse = connection["party"], where["caisse"]

    # seal the sample lot: sign, then encrypt for the caisse (the kit README's commands)
    openssl(kit, "cms", "-sign", "-binary", "-nodetach", "-md", "sha256", "-in", "sample-lot.b2",
            "-signer", "cert.pem", "-inkey", "key.pem", "-certfile", "chain.pem",
            "-outform", "DER", "-out", "signed.der")  # fmt: skip
    openssl(kit, "cms", "-encrypt", "-binary", "-aes-256-gcm", "-recip", f"peers/{caisse}.pem",
            "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256",
            "-in", "signed.der", "-outform", "DER", "-out", "lot.p7m")  # fmt: skip

    name = f"FSE-{party}-000001.p7m"
    async with asyncssh.connect(
        where["host"], where["port"], username=where["user"],
        client_keys=[str(kit / "key.pem")], known_hosts=str(kit / "known_hosts"),
        agent_path=None, config=None,
    ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
        await sftp.put(str(kit / "lot.p7m"), f"depot/{name}.part")
        await sftp.rename(f"depot/{name}.part", f"depot/{name}")
        # the caisse reads its depots every simulated hour: advance until it sends us a file
        sent = await api(base, "/api/clock/advance",
                         {"until_event": "file-sent", "party": party, "timeout": "2 days"})
        assert sent["event"]["details"]["name"].startswith("ARL-")
        (first,) = await fetch_all(sftp, kit)
        assert first.startswith("A0") and first[39] == "P", first  # ARL-ENT, status at 40
        # then poll retour/ as a PS does, every six simulated hours, up to the end
        clock = await api(base, "/api/clock")
        end = datetime.fromisoformat(clock["end"])
        while datetime.fromisoformat(clock["now"]) + timedelta(hours=6) < end:
            clock = await api(base, "/api/clock/advance", {"by": "6h"})
            await fetch_all(sftp, kit)
    await api(base, "/api/clock/advance", {"to": "end"})
    verdict = await api(base, "/api/verdict")
    assert verdict["verdict"] == "pass", verdict["failed"]
    await api(base, "/api/stop", {})
    output = (await server.stdout.read()).decode()
    assert await server.wait() == 0, output
    assert "conform" in output and "not conform" not in output
