"""``noemie-sim export``: a run's journal and clear files for analysis tools, pseudonymised on
request under a key kept outside the export (scenarios/export.py)."""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

from noemie_sim.pki.authority import write_file
from noemie_sim.sim.domain.pseudonyms import KEY_BYTES, Pseudonymiser
from noemie_sim.sim.journal import JournalError, open_journal

from ..export import ExportError, export
from .common import H_, UsageError
from .runs import _recorded_norms, _speak_as_recorded


def default_key_file() -> Path:
    """This user's pseudonymisation key: ``$XDG_DATA_HOME/noemie-sim/pseudonym.key``, else
    ``~/.local/share/noemie-sim/pseudonym.key``."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "noemie-sim" / "pseudonym.key"


def read_or_make_key(path: Path) -> tuple[bytes, bool]:
    """The key in ``path`` (64 or more hex digits, as ``openssl rand -hex 32`` writes, or
    32 or more raw bytes); made (hex, mode 0600) when the file does not exist. Returns the key
    and whether it was made. UsageError for a file that holds no key."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(KEY_BYTES)
        write_file(path, (key.hex() + "\n").encode(), private=True)
        return key, True
    except OSError as exc:
        raise UsageError(f"--key {path}: {exc.strerror or exc}") from None
    text = data.strip()
    try:
        key = bytes.fromhex(text.decode("ascii")) if len(text) >= 2 * KEY_BYTES else data
    except (UnicodeDecodeError, ValueError):
        key = data
    if len(key) < KEY_BYTES:
        raise UsageError(f"--key {path}: expected a key of at least {KEY_BYTES} bytes (or "
                         f"{2 * KEY_BYTES} hex digits), found {len(key)} bytes")  # fmt: skip
    return key, False


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def cmd_export(args: argparse.Namespace) -> int:
    run, out = Path(args.run_dir), Path(args.out)
    if not (run / "journal.sqlite").is_file():
        raise UsageError(f"{run} is not a run folder (no journal.sqlite)")
    if args.key is not None and not args.pseudonymise:
        raise UsageError("--key goes with --pseudonymise")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out}: expected a new or empty folder")
    pseudonyms = None
    if args.pseudonymise:
        key_file = Path(args.key) if args.key else default_key_file()
        for folder, what in ((out, "the export"), (run, "the run folder")):
            if _inside(key_file, folder):
                raise UsageError(f"--key {key_file} is inside {what}: the key must be kept "
                                 "outside what it protects")  # fmt: skip
        key, made = read_or_make_key(key_file)
        if made:
            print(f"a new pseudonymisation key in {key_file} (0600): keep it, and apart from "
                  "the export; the same key gives the same pseudonyms")  # fmt: skip
        pseudonyms = Pseudonymiser(key)
    try:
        # the files are read with the layouts the run spoke (its norms pack)
        journal = open_journal(run)
        try:
            recorded = _recorded_norms(journal)
        finally:
            journal.close()
        _speak_as_recorded(str(run), recorded)
        done = export(run, out, pseudonyms)
    except JournalError as exc:
        raise UsageError(f"{run}: {exc}") from None
    except ExportError as exc:
        print(f"export refused: {exc}")
        return 3
    how = f"pseudonymised (key id {pseudonyms.key_id})" if pseudonyms else "in clear"
    print(f"exported {done.events} events and {done.files} files {how} to {out}")
    if done.left_out:
        print(f"left out {len(done.left_out)} files no known kind reads (they might hold "
              f"personal data): {', '.join(done.left_out[:5])}")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "export",
        help=H_("a run's journal and clear files for analysis tools, pseudonymised on request"),
        description="Write RUN_DIR's journal as JSON lines (DIR/journal.jsonl), the clear "
        "content of every archived file (DIR/files/<actor>/) and DIR/export.json. With "
        "--pseudonymise, NIRs (their keys recomputed), surnames and first names are replaced "
        "by keyed pseudonyms (HMAC-SHA-256) that keep their format: exported files still "
        "validate, and the same person has the same pseudonym in every file and every run "
        "exported with the same key. Exit 0 done, 2 bad input, 3 refused (a real NIR would "
        "have been exported: nothing is kept). What it protects: docs/security.md.",
        epilog="example: noemie-sim export run-folder --out analysis --pseudonymise",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="a new or empty folder")  # fmt: skip
    parser.add_argument("--pseudonymise", action="store_true",
                        help="replace NIRs, names and addresses by keyed pseudonyms")  # fmt: skip
    parser.add_argument("--key", metavar="FILE",
                        help="the pseudonymisation key (hex or raw, at least 32 bytes; made "
                        "when missing); default: this user's, in "
                        "$XDG_DATA_HOME/noemie-sim/pseudonym.key")  # fmt: skip
    parser.set_defaults(handler=cmd_export)
