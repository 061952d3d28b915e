"""``noemie-sim export``: a run's journal and clear files for analysis tools, optionally
pseudonymised (docs/security.md, "Pseudonymised exports").

The export folder holds ``journal.jsonl`` (one event a line, as the HTTP API shows them),
``files/<actor>/<NNNNNN>-<name>`` (the clear content of every archived file) and
``export.json`` (what was exported, from which run, and how).

With a :class:`~noemie_sim.sim.domain.pseudonyms.Pseudonymiser`, every NIR (its key
recomputed), surname and first name in the files, and every NIR in the journal, is replaced by
its keyed pseudonym; files are decoded and re-encoded by the format's own layouts, so that
they still validate. It fails closed: a file that cannot be read as a known kind is left out
(and listed), and before the export is kept every byte of it is searched for the run's real
NIRs; one found removes the whole export and raises :class:`ExportError`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noemie_sim.sim.domain.pseudonyms import Pseudonymiser
from noemie_sim.sim.journal import open_journal
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms.codec import Record, decode_records
from noemie_sim.sim.norms.errors import FormatError
from noemie_sim.sim.norms.keys import NIR_BODY, nir_key, nir_problems

from .web.live import archived_files, event_json

FORMAT = "noemie-sim export 1"
#: what may be a NIR body in any text: the leak check looks for the run's own among them
_NIR_LIKE = re.compile(rb"[1-478][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{6}")


class ExportError(Exception):
    """The export could not be made safely (nothing of it is kept)."""


@dataclass
class Exported:
    folder: Path
    events: int = 0
    files: int = 0
    left_out: list[str] = field(default_factory=list)
    replaced: int = 0  # NIRs, names replaced


def export(run: Path, out: Path, pseudonyms: Pseudonymiser | None = None) -> Exported:
    """Export run folder ``run`` into ``out`` (a new or empty folder). JournalError when the
    folder holds no readable journal; ExportError when a real NIR would have leaked (then
    ``out`` is removed)."""
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ExportError(f"{out} is not empty: an export goes to a new or empty folder")
    result = Exported(out)
    seen: set[str] = set()  # the real NIR bodies met, for the leak check
    try:
        journal = open_journal(run)
        try:
            digest = journal.digest()
            with (out / "journal.jsonl").open("w", encoding="utf-8") as lines:
                for e in journal.events():
                    shown = event_json(e)
                    if pseudonyms is not None:
                        shown = _event_pseudonymised(shown, pseudonyms, seen)
                    lines.write(json.dumps(shown, ensure_ascii=False, sort_keys=True) + "\n")
                    result.events += 1
        finally:
            journal.close()
        for archived in archived_files(run):
            if archived.clear is None:
                continue
            data = archived.clear.read_bytes()
            if pseudonyms is not None:
                rewritten = _file_pseudonymised(data, pseudonyms, seen, result)
                if rewritten is None:
                    result.left_out.append(archived.stem)
                    continue
                data = rewritten
            name = archived.name.removesuffix(".p7m")  # the clear content, not the seal
            target = out / "files" / archived.actor / f"{archived.id}-{name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            result.files += 1
        if pseudonyms is not None:
            _no_leak(out, seen - {pseudonyms.nir(nir) for nir in seen})
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "run_digest": digest,
            "events": result.events,
            "files": result.files,
            "pseudonymised": pseudonyms is not None,
            "key_id": pseudonyms.key_id if pseudonyms is not None else None,
            "left_out": result.left_out,
        }
        (out / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return result


def _event_pseudonymised(
    shown: dict[str, Any], pseudonyms: Pseudonymiser, seen: set[str]
) -> dict[str, Any]:
    """The event with every NIR body among its values (the ``assure`` column, details such as
    ``beneficiaire``) replaced."""

    def walk(value: Any) -> Any:
        if isinstance(value, str) and NIR_BODY.fullmatch(value) and not nir_problems(value):
            seen.add(value)
            return pseudonyms.nir(value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return {k: walk(v) for k, v in shown.items()}


def _file_pseudonymised(
    data: bytes, pseudonyms: Pseudonymiser, seen: set[str], result: Exported
) -> bytes | None:
    """The file with its personal fields replaced, re-encoded by its layouts; None when it is
    not a file of a known kind that reads without error (it is then not exported)."""
    try:
        kind = kinds.detect(data)
        records = decode_records(data, kind.framing, kind.layouts)
        texts = []
        for index, record in enumerate(records, start=1):
            values = dict(record.values)
            result.replaced += _replace(record, values, pseudonyms, seen)
            texts.append(record.layout.encode(Record(record.layout, values), index))
        return kind.framing.join(texts)
    except (FormatError, ValueError):
        return None


def _replace(
    record: Record, values: dict[str, Any], pseudonyms: Pseudonymiser, seen: set[str]
) -> int:
    """Replace in ``values`` the personal fields of ``record``: fields named ``*nir`` (and
    their ``*nir_key``), ``*last_name``, ``payee_name`` and ``*first_name``. How many."""
    replaced = 0
    for f in record.layout.data_fields:
        value = values.get(f.name)
        if not isinstance(value, str) or not value.strip():
            continue
        if f.name.endswith("nir"):
            seen.add(value)
            values[f.name] = pseudonyms.nir(value)
            if f"{f.name}_key" in values:
                values[f"{f.name}_key"] = nir_key(values[f.name])
        elif f.name.endswith("last_name") or f.name == "payee_name":
            values[f.name] = pseudonyms.last_name(value)[: f.length].rstrip()
        elif f.name.endswith("first_name"):
            values[f.name] = pseudonyms.first_name(value)[: f.length].rstrip()
        else:
            continue
        replaced += 1
    return replaced


def _no_leak(out: Path, real: set[str]) -> None:
    """ExportError when a real NIR body of the run is anywhere in the export. (``real`` leaves
    out the real NIRs that are also some other NIR's pseudonym: a pseudonym may happen to be
    another person's NIR, about one in 90 million pairs of the same sex, year and month.)"""
    wanted = {nir.encode() for nir in real}
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for match in _NIR_LIKE.finditer(data):
            if match.group(0) in wanted:
                where = os.path.relpath(path, out)
                raise ExportError(f"a real NIR would have been exported in {where} at byte "
                                  f"{match.start()}: nothing was exported")  # fmt: skip
