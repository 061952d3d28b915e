"""SFTP throughput on loopback: our hub and client next to OpenSSH, measured in one run.

    python bench/bench_transport.py [--files 1000] [--big-mb 100]

Each upload is a complete delivery: NAME.part written, then renamed to NAME. Rows:
our client -> our hub (1 and 16 concurrent), OpenSSH sftp -> our hub (one batch session),
and, when /usr/sbin/sshd exists (Debian package openssh-server; run as root), the same
against OpenSSH's own server (internal-sftp), started here on a private configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncssh

from noemie_sim.pki.authority import Pki
from noemie_sim.sim.transport.sftp_client import SftpClient
from noemie_sim.sim.transport.sftp_server import Limits, SftpHub

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
PS, CPAM = "991086265", "017510000"
SIZE = 10 * 1024


def row(label: str, value: float, unit: str) -> str:
    return f"  {label:<52} {value:7.0f} {unit}"


# OpenSSH runs as a subprocess in a thread: the hub it talks to runs on this event loop.


async def our_client(hub: SftpHub, key: bytes, files: int, concurrency: int, tag: str) -> float:
    client = SftpClient("127.0.0.1", hub.port, PS, key, hub.known_hosts_line())
    payload = os.urandom(SIZE)
    await client.send(f"warm{tag}.b2", payload)
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with gate:
            await client.send(f"{tag}{n:05d}.b2", payload)

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(files)))
    elapsed = time.perf_counter() - start
    await client.close()
    return files / elapsed


def openssh_batch(port: int, user: str, key: Path, known: Path, lines: list[str]) -> float:
    """Seconds for one sftp batch session running ``lines``, less an empty session's time."""

    def run(batch_lines: list[str]) -> float:
        with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as batch:
            batch.write("\n".join(batch_lines) + "\n")
        command = [
            "sftp",
            "-b",
            batch.name,
            "-i",
            str(key),
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-F",
            "/dev/null",
            "-P",
            str(port),
            f"{user}@127.0.0.1",
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, timeout=600)
        os.unlink(batch.name)
        return time.perf_counter() - start

    baseline = min(run(["pwd"]) for _ in range(3))
    return run(lines) - baseline


def start_sshd(folder: Path, key: Path) -> tuple[subprocess.Popen[bytes], int, Path] | None:
    if not Path("/usr/sbin/sshd").exists() or os.geteuid() != 0:
        return None
    host_key = folder / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    public = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key)], check=True, capture_output=True
    ).stdout
    (folder / "authorized_keys").write_bytes(public)
    with socket_port() as port:
        config = folder / "sshd_config"
        config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {folder}/sshd.pid\n"
            f"AuthorizedKeysFile {folder}/authorized_keys\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "Subsystem sftp internal-sftp\n"
        )
    Path("/run/sshd").mkdir(exist_ok=True)
    process = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=subprocess.DEVNULL
    )
    time.sleep(0.5)  # a benchmark script, not a test: wait for sshd to listen
    known = folder / "sshd_known_hosts"
    known.write_text(
        f"[127.0.0.1]:{port} {host_key.with_suffix('.pub').read_text().split()[0]} "
        f"{host_key.with_suffix('.pub').read_text().split()[1]}\n"
    )
    return process, port, known


class socket_port:
    """A free loopback port (closed again before sshd binds it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *_: object) -> None:
        self.sock.close()


async def asyncssh_to_sshd(
    port: int, key: bytes, known: Path, target: Path, files: int, concurrency: int
) -> float:
    payload = os.urandom(SIZE)
    async with (
        asyncssh.connect(
            "127.0.0.1",
            port,
            username="root",
            client_keys=[asyncssh.import_private_key(key)],
            known_hosts=str(known),
            agent_path=None,
            config=None,
            encryption_algs=["aes256-gcm@openssh.com"],
        ) as conn,
        conn.start_sftp_client() as sftp,
    ):
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int) -> None:
            async with gate:
                path = f"{target}/c{concurrency}-{n:05d}.b2"
                async with sftp.open(path + ".part", "wb") as remote:
                    await remote.write(payload)
                await sftp.posix_rename(path + ".part", path)

        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(files)))
        return files / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--big-mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pki = Pki.create(folder / "pki", T0)
        pki.issue_many([("ps", PS), ("cpam", CPAM)], T0)
        key_path = pki.folder / "parties" / PS / "key.pem"
        key = key_path.read_bytes()
        hub = SftpHub(
            pki,
            CPAM,
            folder / "hub",
            lambda: T0 + timedelta(days=1),
            # the bench's depot keeps every file it receives (nothing consumes them): room for
            # the four rows of small files and the big one
            limits=Limits(
                max_file_size=(args.big_mb + 1) * 1024 * 1024,
                max_depot_files=4 * args.files + 10,
                depot_quota=4 * args.files * 16 * 1024 + 2 * (args.big_mb + 1) * 1024 * 1024,
            ),
        )
        await hub.start()
        known = folder / "known_hosts"
        known.write_text(hub.known_hosts_line() + "\n")
        print(f"{args.files} files of 10 KiB, each written as .part then renamed:")
        for concurrency in (1, 16):
            rate = await our_client(hub, key, args.files, concurrency, f"a{concurrency}-")
            print(
                row(
                    f"noemie-sim client -> noemie-sim hub, {concurrency} concurrent",
                    rate,
                    "files/s",
                )
            )
        local = folder / "small.b2"
        local.write_bytes(os.urandom(SIZE))
        lines = [
            f"put {local} depot/o{n:05d}.b2.part\nrename depot/o{n:05d}.b2.part depot/o{n:05d}.b2"
            for n in range(args.files)
        ]
        seconds = await asyncio.to_thread(openssh_batch, hub.port, PS, key_path, known, lines)
        print(row("OpenSSH sftp -> noemie-sim hub, one session", args.files / seconds, "files/s"))
        big = folder / "big.b2"
        big.write_bytes(os.urandom(args.big_mb * 1024 * 1024))
        client = SftpClient("127.0.0.1", hub.port, PS, key, hub.known_hosts_line(), timeout=600)
        start = time.perf_counter()
        await client.send("BIG.b2", big.read_bytes())
        print(
            f"{args.big_mb} MiB file:\n  noemie-sim client -> noemie-sim hub: "
            f"{args.big_mb / (time.perf_counter() - start):6.0f} MiB/s"
        )
        await client.close()
        seconds = await asyncio.to_thread(
            openssh_batch,
            hub.port,
            PS,
            key_path,
            known,
            [f"put {big} depot/BIG2.b2.part", "rename depot/BIG2.b2.part depot/BIG2.b2"],
        )
        print(f"  OpenSSH sftp      -> noemie-sim hub: {args.big_mb / seconds:6.0f} MiB/s")
        await hub.close()
        sshd = start_sshd(folder, key_path)
        if sshd is None:
            print("OpenSSH server: not measured (needs /usr/sbin/sshd and root)")
            return
        process, port, sshd_known = sshd
        try:
            target = folder / "sshd-target"
            target.mkdir()
            for concurrency in (1, 16):
                rate = await asyncssh_to_sshd(
                    port, key, sshd_known, target, args.files, concurrency
                )
                print(
                    row(
                        f"asyncssh client -> OpenSSH sshd, {concurrency} concurrent",
                        rate,
                        "files/s",
                    )
                )
            lines = [
                f"put {local} {target}/s{n:05d}.part\n"
                f"rename {target}/s{n:05d}.part {target}/s{n:05d}"
                for n in range(args.files)
            ]
            seconds = await asyncio.to_thread(
                openssh_batch, port, "root", key_path, sshd_known, lines
            )
            print(row("OpenSSH sftp -> OpenSSH sshd, one session", args.files / seconds, "files/s"))
            seconds = await asyncio.to_thread(
                openssh_batch,
                port,
                "root",
                key_path,
                sshd_known,
                [f"put {big} {target}/BIG.part", f"rename {target}/BIG.part {target}/BIG"],
            )
            print(
                row(
                    f"OpenSSH sftp -> OpenSSH sshd, {args.big_mb} MiB",
                    args.big_mb / seconds,
                    "MiB/s",
                )
            )
        finally:
            process.terminate()
            process.wait(10)
            shutil.rmtree(folder / "sshd-target", ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
