"""The cost of the hub's per-operation security checks, measured in one run.

    python bench/bench_hub_checks.py [--files 400] [--runs 3]

Every operation of a partner's session re-checks its certificate against the PKI folder
(a few stat() calls while the folder is unchanged) and every write checks the bytes held and
the partner's depot quota (a scan of its depot/, which the caisse empties as it reads). Rows:
complete deliveries (NAME.part written, renamed to NAME) by
our client to our hub with the checks, then the same hub with the checks switched off in this
process only (the comparison), as files/s, min/median/max of --runs runs, and the ratio.
A JSON line per figure follows, for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport import sftp_server
from noemie_sim.sim.transport.sftp_client import SftpClient
from noemie_sim.sim.transport.sftp_server import SftpHub

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
PS, CPAM = "991086265", "017510000"
SIZE = 10 * 1024


async def deliveries(hub: SftpHub, key: bytes, files: int, tag: str) -> float:
    """Files/s of ``files`` deliveries by one client, 8 at a time."""
    client = SftpClient("127.0.0.1", hub.port, PS, key, hub.known_hosts_line())
    payload = os.urandom(SIZE)
    await client.send(f"warm{tag}.b2", payload)
    gate = asyncio.Semaphore(8)

    async def one(n: int) -> None:
        async with gate:
            await client.send(f"{tag}{n:05d}.b2", payload)

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(files)))
    elapsed = time.perf_counter() - start
    await client.close()
    for name in hub.disk.list_depot(PS):  # the caisse consumes what was delivered
        hub.disk.consume(PS, name)
    return files / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        pki = Pki.create(Path(folder) / "pki", T0 - timedelta(days=1))
        pki.issue_many([("cpam", CPAM), ("ps", PS)], T0 - timedelta(days=1))
        key = (pki.folder / "parties" / PS / "key.pem").read_bytes()
        hub = SftpHub(pki, CPAM, Path(folder) / "data", lambda: T0)
        await hub.start()
        checked: list[float] = []
        unchecked: list[float] = []
        guard = sftp_server._MailboxSFTP._guard
        for run in range(args.runs):
            checked.append(await deliveries(hub, key, args.files, f"c{run}"))
            sftp_server._MailboxSFTP._guard = lambda self: None  # type: ignore[method-assign]
            try:
                unchecked.append(await deliveries(hub, key, args.files, f"u{run}"))
            finally:
                sftp_server._MailboxSFTP._guard = guard  # type: ignore[method-assign]
        await hub.close()
    figures = {"with the per-operation checks": checked, "checks off (comparison)": unchecked}
    print(f"deliveries of {SIZE // 1024} KiB files, our client -> our hub, files/s "
          f"(min / median / max of {args.runs} runs)")  # fmt: skip
    for label, values in figures.items():
        print(f"  {label:<34} {min(values):7.0f} {statistics.median(values):7.0f} "
              f"{max(values):7.0f}")  # fmt: skip
    ratio = statistics.median(checked) / statistics.median(unchecked)
    print(f"  ratio (median, checked / off)      {ratio:7.2f}")
    for label, values in figures.items():
        print(json.dumps({"bench": "hub_checks", "figure": label, "unit": "files/s",
                          "min": min(values), "median": statistics.median(values),
                          "max": max(values)}))  # fmt: skip
    print(json.dumps({"bench": "hub_checks", "figure": "ratio", "median": ratio}))


if __name__ == "__main__":
    asyncio.run(main())
