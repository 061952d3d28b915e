"""The cost of the hub's per-operation security checks, measured in one run.

    python bench/bench_hub_checks.py [--files 400] [--runs 3] [--waiting 5000]

Every operation of a partner's session re-checks its certificate against the PKI folder
(a few stat() calls while the folder is unchanged) and every write checks the bytes held and
the partner's depot quota (a ledger kept as files are written, published and removed: no scan
of the depot). Rows: complete deliveries (NAME.part written, renamed to NAME) by our client to
our hub with the checks, then the same hub with the checks switched off in this process only
(the comparison), as files/s; then the cost of one 32 KiB write into a depot that is empty
and into one where --waiting files wait (the caisse down, say), in microseconds, and its
ratio: min/median/max of --runs runs. A JSON line per figure follows, for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import asyncssh
from bench_transport import CPAM, PS, SIZE, T0, our_client

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport import sftp_server
from noemie_sim.sim.transport.sftp_server import Limits, SftpHub


async def deliveries(hub: SftpHub, key: bytes, files: int, tag: str) -> float:
    """Files/s of ``files`` deliveries by one client, 8 at a time, then the depot emptied as
    the caisse empties it (the quota check scans what is waiting there)."""
    rate = await our_client(hub, key, files, 8, tag)
    for name in hub.disk.list_depot(PS):
        hub.disk.consume(PS, name)
    return rate


async def write_cost(hub: SftpHub, key: bytes, writes: int) -> float:
    """Microseconds per 32 KiB write through one open handle (one session, one file)."""
    client_key = asyncssh.import_private_key(key)
    async with asyncssh.connect(
        "127.0.0.1", hub.port, username=PS, client_keys=[client_key], agent_path=None,
        known_hosts=asyncssh.import_known_hosts(hub.known_hosts_line()), config=None,
    ) as conn, conn.start_sftp_client() as sftp:  # fmt: skip
        chunk = b"w" * (32 * 1024)
        async with sftp.open("depot/W.part", "wb") as f:
            await f.write(chunk, 0)  # warm
            start = time.perf_counter()
            for n in range(1, writes + 1):
                await f.write(chunk, n * len(chunk))
            elapsed = time.perf_counter() - start
        await sftp.remove("depot/W.part")
    return elapsed / writes * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--waiting", type=int, default=5000)
    parser.add_argument("--writes", type=int, default=500)
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
        # one write's cost, empty depot vs --waiting files waiting (a hub that holds them)
        roomy = Limits(max_depot_files=args.waiting + 10)
        empty_hub = SftpHub(pki, CPAM, Path(folder) / "empty", lambda: T0, limits=roomy)
        full_hub = SftpHub(pki, CPAM, Path(folder) / "full", lambda: T0, limits=roomy)
        depot = full_hub.disk.root / PS / "depot"
        for n in range(args.waiting):
            (depot / f"WAIT-{n:05d}.p7m").write_bytes(b"x" * 1024)
        empty_cost, full_cost = [], []
        for one in (empty_hub, full_hub):
            await one.start()
        for _run in range(args.runs):
            empty_cost.append(await write_cost(empty_hub, key, args.writes))
            full_cost.append(await write_cost(full_hub, key, args.writes))
        for one in (empty_hub, full_hub):
            await one.close()
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
    print(f"one 32 KiB write, microseconds (min / median / max of {args.runs} runs of "
          f"{args.writes} writes)")  # fmt: skip
    costs = {"empty depot/": empty_cost, f"{args.waiting} files waiting": full_cost}
    for label, values in costs.items():
        print(f"  {label:<34} {min(values):7.0f} {statistics.median(values):7.0f} "
              f"{max(values):7.0f}")  # fmt: skip
        print(json.dumps({"bench": "hub_checks", "figure": f"write, {label}", "unit": "us",
                          "min": min(values), "median": statistics.median(values),
                          "max": max(values)}))  # fmt: skip
    pairs = sorted(f / e for f, e in zip(full_cost, empty_cost, strict=True))
    print(f"  ratio (waiting / empty, run by run) {pairs[0]:7.2f} "
          f"{statistics.median(pairs):7.2f} {pairs[-1]:7.2f}")  # fmt: skip
    print(
        json.dumps(
            {
                "bench": "hub_checks",
                "figure": "write ratio, waiting / empty",
                "min": pairs[0],
                "median": statistics.median(pairs),
                "max": pairs[-1],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
