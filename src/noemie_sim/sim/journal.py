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

A run that ends closes its journal (:meth:`Journal.close_run`): a ``run-ended`` event, then a
manifest beside the journal (``manifest.json``) holding the genesis, the event count and the
final digest, signed by the harness under the PKI's root (:mod:`noemie_sim.pki.attest`), and
``manifest.rows``, 4 bytes of each event's hash (its SHA-256 is in the signed manifest) so that
an edit re-hashed end to end is located to its row. :func:`check_run` says whether a run folder
is complete and untouched, and if not, what is wrong and where: a run killed half way has no
manifest, a journal whose tail was cut has fewer events than its manifest.

Identifier conventions: ``file`` is ``SENDER/FILE_ID`` (the émetteur's file number), ``lot`` is
``PS/LOT`` (the lot number in its file), ``invoice`` is ``PS/INVOICE_NUMBER``, ``assure`` is the
assuré's NIR, ``oc`` is the OC number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from noemie_sim.pki import attest
from noemie_sim.pki.errors import PkiError

from .clock import wall_now

GENESIS = "noemie-sim journal v1"
MANIFEST = "manifest.json"
ROWS = "manifest.rows"
MANIFEST_FORMAT = "noemie-sim run manifest 1"
ROW_PREFIX = 4  # bytes of each event's hash kept in manifest.rows
FILES = "manifest.files"  # "SHA-256 path" of every archived file, signed through the manifest
CHECKPOINTS = "checkpoints.jsonl"  # the signed checkpoints, one a line
CHECKPOINT_FORMAT = "noemie-sim journal checkpoint 1"
#: a signed checkpoint after this many events at most, and at every new simulated hour
CHECKPOINT_EVERY = 500
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


#: one encoder for every canonical text (json.dumps with options builds a new one per call)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: object) -> str:
    """The canonical JSON of ``value`` (sorted keys, no spaces, UTF-8 text): what is hashed."""
    return _ENCODER.encode(value)


def chain_hash(previous: str, row: list[object]) -> str:
    """The hash of an event's row [seq, at, actor, kind, ids..., details] after ``previous``."""
    return _chain_step(previous, _canonical(row))


def _chain_step(previous: str, row_text: str) -> str:
    """The chain's one formula, on a row already in canonical JSON."""
    return hashlib.sha256(f"{previous}\n{row_text}".encode()).hexdigest()


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
        self._db = sqlite3.connect(path)
        self._closed = False
        self._genesis: str | None = None
        #: rows recorded and not yet inserted: written in one statement when anything reads
        #: the database or commits (a clock step commits once)
        self._pending: list[tuple[object, ...]] = []
        try:
            self._prepare(path, config)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"{path} is not a readable journal ({exc})") from None
        self._archived = 0
        #: "SHA-256 path" of every file archived, in order: covered by the checkpoints and the
        #: signed manifest (manifest.files)
        self._files: list[str] = []
        #: signs checkpoints (and so makes them): see :meth:`_checkpoint`
        self.signer: Callable[[bytes], dict[str, str]] | None = None
        self._checkpointed = self._seq  # the last checkpoint's number (or where we started)
        self._checkpoint_lines: list[str] = []  # for checkpoints.jsonl, at the next commit
        self._hour = ""  # the simulated hour of the last event recorded
        self._folders: set[Path] = set()  # archive folders known to exist
        #: the archived copies of the latest contents, by digest: a file's receiver archives
        #: the bytes its sender archived, and links them instead of writing them again
        self._copies: OrderedDict[str, Path] = OrderedDict()
        self._prefixes = bytearray()  # ROW_PREFIX bytes of each event's hash, in order
        self.listeners: list[Callable[[Event], None]] = []  # told of every event recorded

    def _prepare(self, path: Path, config: dict[str, Any] | None) -> None:
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

    @property
    def db(self) -> sqlite3.Connection:
        """The journal's database, every event recorded so far in it (not committed yet:
        :meth:`commit`)."""
        if self._pending:
            rows, self._pending = self._pending, []
            self._db.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
        return self._db

    # -- writing ------------------------------------------------------------------------------

    def record(
        self, actor: str, kind: str, *, evidence: dict[str, Any] | None = None, **fields: Any
    ) -> int:
        """Append an event; identifiers among ``fields`` go to their columns, the rest to the
        details; ``evidence`` is stored outside the chain. Returns its sequence number."""
        if self.signer is not None:
            hour = self.now().isoformat()[:13]
            if self._checkpoint_due(hour):
                self._checkpoint()
            self._hour = hour
        return self._append(actor, kind, evidence, fields)

    def _checkpoint_due(self, hour: str) -> bool:
        """Whether a checkpoint comes before the next event, dated in ``hour`` (its ISO text
        to the hour): after :data:`CHECKPOINT_EVERY` events since the last, and when
        simulated time enters a new hour (``check_journal`` applies the same rule)."""
        return self._seq > self._checkpointed and (
            self._seq - self._checkpointed >= CHECKPOINT_EVERY or hour != self._hour
        )

    def _checkpoint(self) -> None:
        """A signed checkpoint (when :meth:`_checkpoint_due`): the chain's hash and the
        archived files' digest after the event before it, signed by the harness (the
        signature kept as evidence, outside the chain, and a line of ``checkpoints.jsonl``).
        An edit re-hashed end to end no longer matches a checkpoint after it, even when the
        run's end and its manifest are removed; a cut journal is caught by the checkpoints
        file beside it."""
        assert self.signer is not None
        body = checkpoint_body(self.genesis(), self._seq, self._hash, _files_digest(self._files))
        seal = self.signer(_canonical(body).encode())
        # written beside the journal once its rows are committed (commit): a run killed
        # before that has no checkpoint line past its journal's end
        self._checkpoint_lines.append(_canonical({**body, "seal": seal}) + "\n")
        self._append("journal", "checkpoint", {"files": body["files"], "seal": seal},
                     {"events": self._seq})  # fmt: skip
        self._checkpointed = self._seq

    def _append(
        self, actor: str, kind: str, evidence: dict[str, Any] | None, fields: dict[str, Any]
    ) -> int:
        ids = [fields.pop(name, None) for name in IDS]
        ids = [None if v is None else str(v) for v in ids]
        self._seq += 1
        at = self.now().isoformat()
        details = _canonical(fields)
        # chain_hash's canonical row, with the details encoded once for both the hash and the
        # column: the canonical list without its "]", then the details
        head = _canonical([self._seq, at, actor, kind, *ids])
        self._hash = _chain_step(self._hash, f"{head[:-1]},{details}]")
        self._prefixes += bytes.fromhex(self._hash[: 2 * ROW_PREFIX])
        self._pending.append(
            (
                self._seq,
                at,
                actor,
                kind,
                *ids,
                details,
                self._hash,
                wall_now().isoformat(),
                None if evidence is None else _canonical(evidence),
            )
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
        N orders files and keeps a re-sent file from overwriting the first copy. A content
        archived a moment before (the sender's copy of what its receiver archives) is linked,
        not written again: one copy on disk, two names."""
        self._archived += 1
        stem = f"files/{actor}/{self._archived:06d}-{name}"
        folder = self.folder / "files" / actor
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)
        for data, suffix in ((sealed, ""), (clear, ".clear")):
            if data is not None:
                digest = hashlib.sha256(data).hexdigest()
                self._keep(self.folder / f"{stem}{suffix}", data, digest)
                self._files.append(f"{digest} {stem}{suffix}")
        return stem

    #: how many recent contents :meth:`archive` remembers (a receiver archives a file soon
    #: after its sender: the same simulated day): bounds its memory on a national day
    COPIES_KEPT = 4096

    def _keep(self, path: Path, data: bytes, digest: str) -> None:
        """Write ``data`` at ``path``, whole or not at all: a hard link to an archived copy of
        the same bytes when there is one (a link is made whole, and costs neither the bytes
        nor the write), else a new file."""
        copy = self._copies.get(digest)
        if copy is not None:
            try:
                os.link(copy, path)
                return
            except OSError:  # a file system without hard links, or the copy gone: write it
                pass
        write_atomically(path, data, made=True)
        self._copies[digest] = path
        self._copies.move_to_end(digest)
        if len(self._copies) > self.COPIES_KEPT:
            self._copies.popitem(last=False)

    def set_info(self, key: str, value: Any) -> None:
        """Run information outside the chain (wall-clock duration, versions...)."""
        self.db.execute("INSERT OR REPLACE INTO run VALUES (?, ?)", (key, _canonical(value)))

    def commit(self) -> None:
        self.db.commit()
        self._write_checkpoints()

    def _write_checkpoints(self) -> None:
        if self._checkpoint_lines:
            with open(self.folder / CHECKPOINTS, "a", encoding="utf-8") as out:
                out.write("".join(self._checkpoint_lines))
            self._checkpoint_lines = []

    def close_run(
        self, sign: Callable[[bytes], dict[str, str]] | None = None, **details: Any
    ) -> dict[str, Any]:
        """End the run: record ``run-ended`` (with ``details``, the event count and digest
        before it), commit, and write the manifest signed by ``sign`` (a function of the
        canonical manifest bytes, see :func:`noemie_sim.pki.attest.sign`). Returns the
        manifest. Nothing may be recorded after it."""
        self.record(
            "network", "run-ended", **details, events_before=self._seq, digest_before=self._hash
        )
        self.commit()
        listed = "".join(f"{line}\n" for line in self._files).encode()
        write_atomically(self.folder / FILES, listed)
        body = self._manifest_body(bytes(self._prefixes))
        body["files"] = len(self._files)
        body["files_sha256"] = hashlib.sha256(listed).hexdigest()
        manifest: dict[str, Any] = dict(body)
        if sign is not None:
            manifest["seal"] = sign(_canonical(body).encode())
        write_atomically(self.folder / ROWS, bytes(self._prefixes))
        write_atomically(self.folder / MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode())
        return manifest

    def _manifest_body(self, prefixes: bytes) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "genesis": self.genesis(),
            "events": self._seq,
            "digest": self._hash,
            "ended_at": self.now().isoformat(),
            "rows_sha256": hashlib.sha256(prefixes).hexdigest(),
        }

    def genesis(self) -> str:
        """The hash the chain starts from (that of the run's configuration)."""
        if self._genesis is None:  # read once: it never changes
            row = self.db.execute("SELECT value FROM run WHERE key = 'genesis'").fetchone()
            self._genesis = str(row[0])
        return self._genesis

    def close(self) -> None:
        """Commit and close the database; closing a closed journal does nothing."""
        if self._closed:
            return
        self.commit()
        self._db.close()
        self._closed = True

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
        return self.select(kind, where=where)

    def select(
        self,
        kind: str | None = None,
        *,
        after: int = 0,
        limit: int | None = None,
        where: dict[str, str] | None = None,
        detail_equals: dict[str, str] | None = None,
    ) -> list[Event]:
        """Events in order, of ``kind`` if given, numbered after ``after``, at most ``limit``,
        whose identifier columns (and ``actor``) equal ``where`` and whose top-level detail
        keys equal ``detail_equals`` (``{"to": party}``: the files sent to a party)."""
        clauses: list[str] = ["seq > ?"]
        params: list[object] = [after]
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        for name, value in (where or {}).items():
            if name not in (*IDS, "actor"):
                raise ValueError(f"cannot select events on {name!r}")
            clauses.append(f"{name} = ?")
            params.append(value)
        for key, value in (detail_equals or {}).items():
            if not key.isidentifier():
                raise ValueError(f"cannot select events on the detail {key!r}")
            clauses.append(f"json_extract(details, '$.{key}') = ?")
            params.append(value)
        query = "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details FROM events"
        query += " WHERE " + " AND ".join(clauses) + " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [_event(row) for row in self.db.execute(query, params)]

    def events_after(self, seq: int) -> list[Event]:
        """Events recorded after event number ``seq``, in order."""
        return self.select(after=seq)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events())

    def count(self) -> int:
        return self._seq

    def last_time(self) -> datetime | None:
        """The simulated time of the last event recorded (None before any)."""
        row = self.db.execute("SELECT at FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return None if row is None else datetime.fromisoformat(row[0])

    def verify(self) -> None:
        """Recompute the chain from the configuration; JournalError at the first row that does
        not match (edited, inserted or removed)."""
        walk = self.walk_chain()
        if walk.problem:
            raise JournalError(walk.problem)

    def walk_chain(self) -> ChainWalk:
        """The chain recomputed row by row: every row's hash, and the first problem."""
        walk = ChainWalk()
        expected = hashlib.sha256(f"{GENESIS}\n{_canonical(self.config())}".encode()).hexdigest()
        previous = self.genesis()
        if previous != expected:
            walk.problem = "the run configuration was changed after the run"
            return walk
        rows = self.db.execute(
            "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details, hash "
            "FROM events ORDER BY seq"
        )
        try:
            for seq, row in enumerate(rows, start=1):
                if row[0] != seq:
                    walk.problem = f"event {seq} is missing (found {row[0]} after {seq - 1})"
                    return walk
                # the details column holds the canonical text the writer hashed (_append): it
                # is hashed as stored, not decoded and encoded again; an edit that leaves its
                # meaning but not its text is an edit too
                head = _canonical(list(row[:9]))
                previous = _chain_step(previous, f"{head[:-1]},{row[9]}]")
                walk.hashes.append(previous)
                walk.kinds.append(str(row[3]))
                walk.hours.append(str(row[1])[:13])
                if previous != row[10]:
                    walk.problem = f"event {seq} ({row[3]}) does not match its hash"
                    return walk
        except (sqlite3.DatabaseError, ValueError) as exc:
            walk.problem = f"the journal cannot be read past event {len(walk.hashes)}: {exc}"
        return walk


@dataclass(frozen=True)
class Difference:
    """Where two journals part (:func:`first_difference`): the first event number whose row
    differs (0: their configurations differ), its kind in each (None where that journal has
    no such event), and each differing field with its value in each."""

    seq: int
    recorded_kind: str | None
    replayed_kind: str | None
    fields: dict[str, tuple[Any, Any]]

    def describe(self) -> str:
        if self.seq == 0:
            what = "the run configurations differ"
        elif self.replayed_kind is None or self.recorded_kind is None:
            which = "replayed" if self.replayed_kind is None else "recorded"
            kind = self.recorded_kind or self.replayed_kind
            return f"event {self.seq} ({kind}) is missing from the {which} journal"
        else:
            kinds = (self.recorded_kind if self.recorded_kind == self.replayed_kind
                     else f"{self.recorded_kind} / {self.replayed_kind}")  # fmt: skip
            what = f"event {self.seq} ({kinds}) differs"
        shown = "; ".join(f"{name}: recorded {_short(a)}, replayed {_short(b)}"
                          for name, (a, b) in self.fields.items())  # fmt: skip
        return f"{what}: {shown}"


def checkpoint_body(genesis: str, events: int, digest: str, files: str) -> dict[str, Any]:
    """What a checkpoint signs: the run (its genesis), the events before it, the chain's hash
    after them, and the digest of the files archived by then."""
    return {"format": CHECKPOINT_FORMAT, "genesis": genesis, "events": events,
            "digest": digest, "files": files}  # fmt: skip


def _files_digest(lines: list[str]) -> str:
    """The digest of the archived files listed so far (as manifest.files would list them)."""
    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()


def _short(value: Any, most: int = 160) -> str:
    text = _canonical(value)
    return text if len(text) <= most else text[: most - 1] + "…"


_COLUMNS = ("at", "actor", "kind", *IDS)


def first_difference(recorded: Journal, replayed: Journal) -> Difference | None:
    """The first place the two journals differ (their configurations, then event by event,
    every chained column and each detail key), None when their chains are the same."""
    a_config, b_config = recorded.config(), replayed.config()
    if a_config != b_config:
        keys = sorted(set(a_config) | set(b_config))
        return Difference(0, None, None, {k: (a_config.get(k), b_config.get(k)) for k in keys
                                          if a_config.get(k) != b_config.get(k)})  # fmt: skip
    query = "SELECT seq, at, actor, kind, file, lot, invoice, assure, oc, details FROM events " \
            "ORDER BY seq"  # fmt: skip
    a_rows, b_rows = recorded.db.execute(query), replayed.db.execute(query)
    while True:
        a, b = a_rows.fetchone(), b_rows.fetchone()
        if a is None and b is None:
            return None
        if a is None or b is None:
            seq = (a or b)[0]
            return Difference(seq, a and a[3], b and b[3], {})
        if a == b:
            continue
        fields = {name: (x, y) for name, x, y in zip(_COLUMNS, a[1:9], b[1:9], strict=True)
                  if x != y}  # fmt: skip
        a_details, b_details = json.loads(a[9]), json.loads(b[9])
        for key in sorted(set(a_details) | set(b_details)):
            if a_details.get(key) != b_details.get(key):
                fields[f"details.{key}"] = (a_details.get(key), b_details.get(key))
        return Difference(a[0], a[3], b[3], fields)


@dataclass
class ChainWalk:
    """What :meth:`Journal.walk_chain` found: the recomputed hash and kind of each event
    that matched, and the first problem (None when the whole chain holds)."""

    hashes: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    hours: list[str] = field(default_factory=list)  # each event's simulated time, to the hour
    problem: str | None = None


@dataclass
class RunCheck:
    """Whether a run folder is complete and untouched (:func:`check_run`).

    ``state`` is ``complete`` (the run ended, its journal matches its signed manifest),
    ``incomplete`` (it never ended: no run-ended event or no manifest, or its tail was cut) or
    ``tampered`` (a row, the manifest or its signature does not match). ``problems`` say what
    and where, one sentence each."""

    state: str
    problems: list[str]
    events: int
    digest: str
    manifest: dict[str, Any] | None = None
    #: which harness certificate the signatures were checked against, and warnings about it
    trusted: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def check_run(folder: Path | str, root: x509.Certificate | None = None) -> RunCheck:
    """Check a run folder: the journal's chain, its signed checkpoints, its end, its manifest,
    the manifest's signature and the archived files it lists. Signatures are checked against
    ``root``, a harness certificate (default: this machine's harness; only when there is none,
    the certificate the manifest carries, with a warning: see :mod:`noemie_sim.pki.attest`).
    JournalError when the folder holds no readable journal."""
    folder = Path(folder)
    journal = open_journal(folder)
    try:
        return check_journal(journal, root)
    finally:
        journal.db.close()


def check_journal(
    journal: Journal, root: x509.Certificate | None = None, *, files: bool = True
) -> RunCheck:
    """:func:`check_run` on a journal already open (its folder holds the manifest);
    ``files=False`` leaves the archived files unread (a report's figures come from the
    journal alone, and a national day's archive is gigabytes: ``verify`` reads them)."""
    folder = journal.folder
    walk = journal.walk_chain()
    count, digest = len(walk.hashes), (walk.hashes[-1] if walk.hashes else journal.genesis())
    if walk.problem:
        return RunCheck("tampered", [walk.problem], count, digest)
    manifest: Any = None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError("not a manifest of this format")
    except FileNotFoundError:
        manifest = None
    except (OSError, ValueError) as exc:
        return RunCheck("tampered", [f"{MANIFEST} cannot be read: {exc}"], count, digest)
    trusted, named, warnings = _trusted(root, manifest)
    problems = _check_checkpoints(journal, walk, trusted)
    if problems:
        return RunCheck("tampered", problems, count, digest, manifest, named, warnings)
    if manifest is None:
        ended = bool(walk.kinds) and walk.kinds[-1] == "run-ended"
        why = "its manifest was removed" if ended else "it has no run-ended event"
        return RunCheck(
            "incomplete",
            [f"the run never ended: no {MANIFEST} ({why}; a killed or still running run)"],
            count, digest, None, named, warnings,
        )  # fmt: skip
    body = {k: manifest.get(k) for k in ("format", "genesis", "events", "digest", "ended_at",
                                         "rows_sha256", "files", "files_sha256")}  # fmt: skip
    problems += _check_seal(manifest, body, trusted)
    if not problems and files:
        problems += _check_files(folder, body)
    result = _check_end(journal, walk, manifest, body, problems, count, digest)
    return dataclasses.replace(result, trusted=named, warnings=warnings)


def _check_end(
    journal: Journal,
    walk: ChainWalk,
    manifest: dict[str, Any],
    body: dict[str, Any],
    problems: list[str],
    count: int,
    digest: str,
) -> RunCheck:
    """The journal against its manifest: the same run, cut, added to, or edited."""
    folder = journal.folder
    expected = manifest.get("events")
    if not isinstance(expected, int) or manifest.get("genesis") != journal.genesis():
        problems.append(f"{MANIFEST} belongs to another run")
        return RunCheck("tampered", problems, count, digest, manifest)
    if count < expected:
        problems.append(
            f"the journal's tail was cut: it ends at event {count} "
            f"({walk.kinds[-1] if walk.kinds else 'none'}), the run ended at event {expected}"
        )
        return RunCheck("incomplete", problems, count, digest, manifest)
    if count > expected:
        problems.append(
            f"events {expected + 1} to {count} were added after the run ended (event {expected})"
        )
    elif digest != manifest.get("digest"):
        problems.append(_locate_edit(walk, folder, body))
    elif walk.kinds[-1] != "run-ended":
        problems.append(f"event {count} is a {walk.kinds[-1]}, not the run-ended event")
    return RunCheck("tampered" if problems else "complete", problems, count, digest, manifest)


def _trusted(
    root: x509.Certificate | None, manifest: dict[str, Any] | None
) -> tuple[x509.Certificate | None, str, list[str]]:
    """The harness certificate to check signatures against, what to call it, and warnings:
    ``root`` when given; else this machine's harness; else, with a warning, the certificate
    the manifest carries (anyone could have made it)."""
    if root is not None:
        return root, f"the certificate given ({attest.fingerprint(root)})", []
    mine = attest.trusted_harness_certificate()
    if mine is not None:
        return mine, f"this machine's harness ({attest.fingerprint(mine)})", []
    seal = (manifest or {}).get("seal")
    try:
        carried = x509.load_pem_x509_certificate(str(seal["certificate"]).encode("ascii"))  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None, "nothing", ["no harness certificate to trust: signatures not checked"]
    return (
        carried,
        f"the certificate the run folder carries ({attest.fingerprint(carried)})",
        [
            "only the run folder's own certificate could be trusted: anyone who changed the folder "
            "could have signed with a key of their own; check it with --root CERT (the harness "
            "certificate of the machine that ran it: noemie-sim harness --export)"
        ],
    )


def _check_seal(
    manifest: dict[str, Any], body: dict[str, Any], trusted: x509.Certificate | None
) -> list[str]:
    seal = manifest.get("seal")
    if not isinstance(seal, dict):
        return [f"{MANIFEST} is not signed"]
    if trusted is None:
        return []
    try:
        attest.verify(seal, _canonical(body).encode(), trusted)
    except PkiError as exc:
        return [f"the manifest's signature is refused: {exc}"]
    return []


def _check_checkpoints(
    journal: Journal, walk: ChainWalk, trusted: x509.Certificate | None
) -> list[str]:
    """Every signed checkpoint against the chain as recomputed: one where it should be (every
    :data:`CHECKPOINT_EVERY` events), signing the hash the chain has there; none beside the
    journal (checkpoints.jsonl) past its end."""
    count = len(walk.hashes)
    checkpointed, hour = 0, ""  # as Journal.record keeps them, replayed row by row
    for n in range(count):
        # row n is a checkpoint exactly when one was due before the event recorded then
        # (dated like it: a checkpoint has the time of the event it comes before)
        after_checkpoint = n == checkpointed and n > 0 and walk.kinds[n - 1] == "checkpoint"
        due = (
            not after_checkpoint
            and n > checkpointed
            and (n - checkpointed >= CHECKPOINT_EVERY or walk.hours[n] != hour)
        )
        if due != (walk.kinds[n] == "checkpoint"):
            what = "not the signed checkpoint due there" if due else "a checkpoint out of place"
            return [f"event {n + 1} ({walk.kinds[n]}) is {what}: events were removed, added "
                    "or moved"]  # fmt: skip
        if due:
            checkpointed = n + 1
        else:
            hour = walk.hours[n]
    genesis = journal.genesis()
    rows = journal.db.execute(
        "SELECT seq, details, evidence FROM events WHERE kind = 'checkpoint' ORDER BY seq"
    )
    for seq, details, evidence in rows:
        events = json.loads(details).get("events")
        kept = json.loads(evidence or "{}")
        if events != seq - 1 or not isinstance(kept.get("seal"), dict):
            return [f"the checkpoint at event {seq} is not one the harness wrote"]
        body = checkpoint_body(genesis, events, walk.hashes[events - 1], str(kept.get("files")))
        if trusted is not None:
            try:
                attest.verify(kept["seal"], _canonical(body).encode(), trusted)
            except attest.OtherHarness as exc:
                return [f"the checkpoint at event {seq} is {exc}"]
            except PkiError as exc:
                edited = _first_changed_row(walk, journal.folder, events)
                return [f"{edited} differs from the signed checkpoint at event {seq}: it was "
                        f"edited and the chain re-hashed after it ({exc})"]  # fmt: skip
    try:
        lines = (journal.folder / CHECKPOINTS).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    for line in lines:
        try:
            entry = json.loads(line)
            reached, seal = int(entry["events"]), entry["seal"]
            body = checkpoint_body(genesis, reached, str(entry["digest"]), str(entry["files"]))
        except (ValueError, KeyError, TypeError):
            return [f"{CHECKPOINTS} holds a line that is not a checkpoint"]
        if reached < count:
            continue
        if trusted is not None:
            try:
                attest.verify(seal, _canonical(body).encode(), trusted)
            except PkiError:
                return [f"{CHECKPOINTS} holds a checkpoint the harness did not sign"]
        return [f"the journal was cut: it ends at event {count}, but a signed checkpoint "
                f"shows the run had reached event {reached + 1}"]  # fmt: skip
    return []


def _first_changed_row(walk: ChainWalk, folder: Path, events: int) -> str:
    """The first of events 1 to ``events`` whose hash differs from manifest.rows (a locating
    aid, when the file is still there), else those events as a whole."""
    try:
        prefixes = (folder / ROWS).read_bytes()
    except OSError:
        prefixes = b""
    for n, digest in enumerate(walk.hashes[:events]):
        kept = prefixes[n * ROW_PREFIX : (n + 1) * ROW_PREFIX]
        if len(kept) == ROW_PREFIX and kept != bytes.fromhex(digest[: 2 * ROW_PREFIX]):
            return f"event {n + 1} ({walk.kinds[n]}) of events 1 to {events}"
    return f"one of events 1 to {events}"


def _check_files(folder: Path, body: dict[str, Any]) -> list[str]:
    """The archived files against manifest.files, whose digest the manifest signs."""
    if body.get("files_sha256") is None:
        return []
    try:
        listed = (folder / FILES).read_bytes()
    except OSError:
        return [f"{FILES} was removed: the archived files cannot be checked"]
    if hashlib.sha256(listed).hexdigest() != body["files_sha256"]:
        return [f"{FILES} differs from the signed manifest"]
    problems = []
    for line in listed.decode("utf-8").splitlines():
        expected, _, path = line.partition(" ")
        try:
            found = hashlib.sha256((folder / path).read_bytes()).hexdigest()
        except OSError:
            problems.append(f"the archived file {path} was removed")
            continue
        if found != expected:
            problems.append(f"the archived file {path} was changed after the run")
        if len(problems) >= 10:
            problems.append("(and maybe more)")
            break
    return problems


def _locate_edit(walk: ChainWalk, folder: Path, body: dict[str, Any]) -> str:
    """The first event whose hash differs from the signed record of the run."""
    try:
        prefixes = (folder / ROWS).read_bytes()
    except OSError:
        prefixes = b""
    if hashlib.sha256(prefixes).hexdigest() != body.get("rows_sha256"):
        return (
            "the journal's final digest differs from the signed manifest (and manifest.rows "
            "does not match it either: the edited row cannot be located)"
        )
    for n, digest in enumerate(walk.hashes):
        if prefixes[n * ROW_PREFIX : (n + 1) * ROW_PREFIX] != bytes.fromhex(
            digest[: 2 * ROW_PREFIX]
        ):
            return (
                f"event {n + 1} ({walk.kinds[n]}) differs from the signed record of the run: "
                "it was edited and the chain re-hashed after it"
            )
    return "the journal's final digest differs from the signed manifest"


def _event(row: tuple[Any, ...]) -> Event:
    seq, at, actor, kind, file, lot, invoice, assure, oc, details = row
    return Event(
        seq, datetime.fromisoformat(at), actor, kind, file, lot, invoice, assure, oc,
        json.loads(details),
    )  # fmt: skip


def write_atomically(path: Path, data: bytes, made: bool = False) -> None:
    """Write ``path`` whole or not at all (a temporary name, then a rename); its folder is
    created unless ``made`` says it exists."""
    if not made:
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def open_journal(folder: Path | str) -> Journal:
    """An existing run's journal, read-only use (its time source is not needed)."""

    def no_time() -> datetime:
        raise JournalError("a finished run's journal takes no new events")

    return Journal(folder, no_time)
