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
import statistics
import tempfile
from datetime import timedelta
from pathlib import Path

from bench_transport import CPAM, PS, SIZE, T0, our_client

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport import sftp_server
from noemie_sim.sim.transport.sftp_server import SftpHub


async def deliveries(hub: SftpHub, key: bytes, files: int, tag: str) -> float:
    """Files/s of ``files`` deliveries by one client, 8 at a time, then the depot emptied as
    the caisse empties it (the quota check scans what is waiting there)."""
    rate = await our_client(hub, key, files, 8, tag)
    for name in hub.disk.list_depot(PS):
        hub.disk.consume(PS, name)
    return rate


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
