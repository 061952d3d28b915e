"""A vendor's own test: an external PS against noemie-sim, written only with asyncssh's SFTP
client and the openssl command line (no noemie-sim code is imported).

Run it from a clone where noemie-sim is installed (see docs/vendors.md):

    .venv/bin/python -m pytest docs/examples/test_vendor_ps.py

It starts ``noemie-sim serve demo --external ps``, reads the connection kit, seals the kit's
sample lot with openssl, uploads it over SFTP as ``depot/NAME.part`` then renames it, waits
for the ARL in ``retour/``, opens it with openssl, checks it is positive, then stops the
server with SIGINT and expects the verdict "conform".
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest

NOEMIE_SIM = str(Path(sys.executable).with_name("noemie-sim"))


def openssl(kit: Path, *args: str) -> None:
    subprocess.run(["openssl", "cms", *args], cwd=kit, check=True, capture_output=True)


@pytest.mark.asyncio(loop_scope="function")
async def test_my_billing_software_gets_a_positive_arl(tmp_path: Path) -> None:
    server = await asyncio.create_subprocess_exec(
        NOEMIE_SIM, "serve", "demo", "--external", "ps", "--speed", "600",
        "--out", str(tmp_path / "run"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert server.stdout is not None
    kit = None
    while kit is None:  # the server prints where the kit is
        line = (await asyncio.wait_for(server.stdout.readline(), 120)).decode()
        assert line, "the server stopped before writing the kit"
        if "connection kit" in line:
            kit = Path(line.split("connection kit", 1)[1].strip())
    connection = json.loads((kit / "connection.json").read_text())
    where = connection["servers"][0]
    party, caisse = connection["party"], where["caisse"]

    # seal the sample lot: sign, then encrypt for the caisse (the kit README's commands)
    openssl(kit, "-sign", "-binary", "-nodetach", "-md", "sha256", "-in", "sample-lot.b2",
            "-signer", "cert.pem", "-inkey", "key.pem", "-certfile", "chain.pem",
            "-outform", "DER", "-out", "signed.der")  # fmt: skip
    openssl(kit, "-encrypt", "-binary", "-aes-256-gcm", "-recip", f"peers/{caisse}.pem",
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
        arl = None
        for _ in range(240):  # the caisse reads its depots every simulated hour
            arls = [n for n in await sftp.listdir("retour") if n.startswith("ARL-")]
            if arls:
                arl = arls[0]
                break
            await asyncio.sleep(0.5)
        assert arl is not None, "no ARL within two minutes"
        await sftp.get(f"retour/{arl}", str(kit / "arl.p7m"))
        await sftp.remove(f"retour/{arl}")

    openssl(kit, "-decrypt", "-binary", "-inform", "DER", "-in", "arl.p7m", "-inkey", "key.pem",
            "-recip", "cert.pem", "-out", "arl.der")  # fmt: skip
    openssl(kit, "-verify", "-binary", "-inform", "DER", "-in", "arl.der", "-CAfile", "root.pem",
            "-purpose", "any", "-out", "arl.txt")  # fmt: skip
    first = (kit / "arl.txt").read_text()[:128]
    assert first.startswith("A0") and first[39] == "P", first  # ARL-ENT, status at position 40

    server.send_signal(signal.SIGINT)
    output = (await server.stdout.read()).decode()
    assert await server.wait() == 0, output
    assert "conform" in output and "not conform" not in output
