"""The run's journal: every event, appended to SQLite, hash-chained; every exchanged file
archived sealed and clear.

An event has the simulated time, the actor, a kind, the identifiers it concerns (file, lot,
invoice, assuré, OC: each optional text) and details (JSON). Each event's hash covers the
previous hash and the canonical JSON of everything but the wall-clock time it was written, so

* the last hash (:meth:`Journal.digest`) is the same for two runs of the same seed and
  configuration, and differs as soon as one event differs;
* editing, inserting or removing a row breaks the chain (:meth:`Journal.verify`).

The chain starts from the hash of the run's configuration (given at creation). Details must
be JSON values (str, int, bool, None, lists, dicts with str keys); amounts are integer cents.

*Evidence* (the SHA-256 and size of sealed files, and digests of contents that quote them,
such as an ARL) is kept beside each event but outside the chain: signatures, envelopes and
certificate serial numbers are random, so these differ from run to run like the wall-clock
time does. Nothing derived from sealed bytes may go into the details.

Identifier conventions: ``file`` is ``SENDER/FILE_ID`` (the émetteur's file number), ``lot`` is
``PS/LOT`` (the lot number in its file), ``invoice`` is ``PS/INVOICE_NUMBER``, ``assure`` is the
assuré's NIR, ``oc`` is the OC number.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .clock import wall_now

GENESIS = "noemie-sim journal v1"
IDS = ("file", "lot", "invoice", "assure", "oc")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    file TEXT, lot TEXT, invoice TEXT, assure TEXT, oc TEXT,
    details TEXT NOT NULL,
    hash TEXT NOT NULL,
    wall TEXT NOT NULL,
    evidence TEXT
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind);
CREATE INDEX IF NOT EXISTS events_invoice ON events(invoice);
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class JournalError(Exception):
    """A journal that cannot be opened or whose chain is broken."""


@dataclass(frozen=True)
class Event:
    seq: int
    at: datetime
    actor: str
    kind: str
    file: str | None
    lot: str | None
    invoice: str | None
    assure: str | None
    oc: str | None
    details: dict[str, Any]


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(previous: str, row: list[object]) -> str:
    return hashlib.sha256(f"{previous}\n{_canonical(row)}".encode()).hexdigest()


class Journal:
    """The journal of the run in ``folder`` (``journal.sqlite`` and ``files/``).

    ``now`` gives the simulated time of each event. Create a new journal with ``config`` (the
    run's configuration as JSON values, the chain's start); open an existing one without."""

    def __init__(
        self,
        folder: Path | str,
        now: Callable[[], datetime],
        config: dict[str, Any] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.now = now
        path = self.folder / "journal.sqlite"
        if config is None and not path.is_file():
            raise JournalError(f"no journal in {self.folder}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        # WAL: a commit per clock step survives a crash of the process without an fsync each
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        if config is not None:
            if self.db.execute("SELECT 1 FROM run WHERE key = 'genesis'").fetchone():
                raise JournalError(f"{path} already holds a run")
            start = hashlib.sha256(f"{GENESIS}\n{_canonical(config)}".encode()).hexdigest()
            self.db.execute(
                "INSERT OR REPLACE INTO run VALUES ('config', ?), ('genesis', ?)",
                (_canonical(config), start),
            )
            self.db.commit()
        row = self.db.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        genesis = self.db.execute("SELECT value FROM run WHERE key = 'genesis'").fetchone()
        if genesis is None:
            raise JournalError(f"{path} has no run configuration")
        self._seq: int = row[0] if row else 0
        self._hash: str = row[1] if row else genesis[0]
        self._archived = 0
        self.listeners: list[Callable[[Event], None]] = []  # told of every event recorded

    # -- writing ------------------------------------------------------------------------------

    def record(
        self, actor: str, kind: str, *, evidence: dict[str, Any] | None = None, **fields: Any
    ) -> int:
        """Append an event; identifiers among ``fields`` go to their columns, the rest to the
        details; ``evidence`` is stored outside the chain. Returns its sequence number."""
        ids = [fields.pop(name, None) for name in IDS]
        ids = [None if v is None else str(v) for v in ids]
        self._seq += 1
        at = self.now().isoformat()
        row: list[object] = [self._seq, at, actor, kind, *ids, fields]
        self._hash = chain_hash(self._hash, row)
        self.db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._seq,
                at,
                actor,
                kind,
                *ids,
                _canonical(fields),
                self._hash,
                wall_now().isoformat(),
                None if evidence is None else _canonical(evidence),
            ),
        )
        if self.listeners:
            file, lot, invoice, assure, oc = ids
            event = Event(
                self._seq, self.now(), actor, kind, file, lot, invoice, assure, oc, fields
            )
            for listener in self.listeners:
                listener(event)
        return self._seq

    def archive(self, actor: str, name: str, sealed: bytes | None, clear: bytes | None) -> str:
        """Keep a copy of an exchanged file under ``files/<actor>/``: the sealed bytes as
        ``N-name`` and the clear content as ``N-name.clear`` (either may be absent: a file that
        could not be opened has no clear content). Returns the relative path without suffix;
        N orders files and keeps a re-sent file from overwriting the first copy."""
        self._archived += 1
        stem = f"files/{actor}/{self._archived:06d}-{name}"
        for data, suffix in ((sealed, ""), (clear, ".clear")):
            if data is not None:
                _write_atomic(self.folder / f"{stem}{suffix}", data)
        return stem

    def set_info(self, key: str, value: Any) -> None:
        """Run information outside the chain (wall-clock duration, versions...)."""
        self.db.execute("INSERT OR REPLACE INTO run VALUES (?, ?)", (key, _canonical(value)))

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        self.db.commit()
        self.db.close()

    # -- reading ------------------------------------------------------------------------------

    def digest(self) -> str:
        """The hash of the last event (the chain's start when there is none)."""
        return self._hash

    def config(self) -> dict[str, Any]:
        row = self.db.execute("SELECT value FROM run WHERE key = 'config'").fetchone()
        value: dict[str, Any] = json.loads(row[0])
        return value

    def info(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM run WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def events(self, kind: str | None = None, **where: str) -> list[Event]:
        """Events in order, of ``kind`` if given, whose identifier columns equal ``where``."""
        clauses, params = [], []
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        for name, value in where.items():
            if name not in (*IDS, "actor"):
                raise ValueError(f"cannot select events on {name!r}")
            clauses.append(f"{name} = ?")
            params.append(value)
        query = "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details FROM events"
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        return [_event(row) for row in self.db.execute(query + " ORDER BY seq", params)]

    def events_after(self, seq: int) -> list[Event]:
        """Events recorded after event number ``seq``, in order."""
        query = "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details FROM events"
        return [_event(row) for row in self.db.execute(query + " WHERE seq > ? ORDER BY seq",
                                                       (seq,))]  # fmt: skip

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def count(self) -> int:
        return self._seq

    def verify(self) -> None:
        """Recompute the chain from the configuration; JournalError at the first row that does
        not match (edited, inserted or removed)."""
        genesis = self.db.execute("SELECT value FROM run WHERE key = 'genesis'").fetchone()[0]
        expected = hashlib.sha256(f"{GENESIS}\n{_canonical(self.config())}".encode()).hexdigest()
        if genesis != expected:
            raise JournalError("the run configuration was changed after the run")
        previous = genesis
        rows = self.db.execute(
            "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details, hash "
            "FROM events ORDER BY seq"
        )
        for seq, row in enumerate(rows, start=1):
            if row[0] != seq:
                raise JournalError(f"event {seq} is missing (found {row[0]})")
            details = json.loads(row[9])
            previous = chain_hash(previous, [*row[:9], details])
            if previous != row[10]:
                raise JournalError(f"event {seq} ({row[3]}) does not match its hash")


def _event(row: tuple[Any, ...]) -> Event:
    seq, at, actor, kind, file, lot, invoice, assure, oc, details = row
    return Event(
        seq, datetime.fromisoformat(at), actor, kind, file, lot, invoice, assure, oc,
        json.loads(details),
    )  # fmt: skip


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def open_journal(folder: Path | str) -> Journal:
    """An existing run's journal, read-only use (its time source is not needed)."""

    def no_time() -> datetime:
        raise JournalError("a finished run's journal takes no new events")

    return Journal(folder, no_time)
