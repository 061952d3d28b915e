"""Norms pack folders: a pack (:mod:`noemie_sim.sim.norms.pack`) read from and written to
plain files a vendor edits and diffs.

A pack folder holds ``pack.toml`` (its ``name`` and a ``description``) and one file per format,
``<format>.toml`` (b2, arl, oc-answer, noemie-580, noemie-550, noemie-oc); a format without
its file keeps the built-in tables. Files are written one field per line, so that moving a
field or adding a choice is a one-line diff; ``schema.json`` beside them is the JSON Schema
they follow.

The pack a command speaks is ``--norms DIR``, else the folder named by ``NOEMIE_SIM_NORMS``,
else the built-in one (:func:`chosen`).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from noemie_sim.sim.norms.pack import (
    BUILTIN,
    FORMATS,
    SCHEMA,
    Pack,
    PackError,
    Problem,
    active,
    compile_pack,
)

#: The environment variable naming the pack folder when no ``--norms`` is given.
ENVIRONMENT = "NOEMIE_SIM_NORMS"
MANIFEST = "pack.toml"
SCHEMA_FILE = "schema.json"
#: where a run folder keeps the pack its run spoke (when not the built-in one)
RUN_FOLDER = "norms"


def read_pack(folder: str | Path) -> Pack:
    """The pack in ``folder``, checked and compiled; PackError naming each problem's file,
    record and field (an unreadable folder or file is a problem too)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PackError(
            [Problem(str(folder), "not a folder (a norms pack is a folder of TOML files)")]
        )
    problems: list[Problem] = []
    name = folder.resolve().name
    manifest = _read_toml(folder / MANIFEST, problems) if (folder / MANIFEST).exists() else {}
    if isinstance(manifest, dict) and isinstance(manifest.get("name"), str):
        name = manifest["name"]
    data: dict[str, Any] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name == MANIFEST:
            continue
        fmt = path.stem
        if fmt not in FORMATS:
            problems.append(
                Problem(path.name, f"not a format of a pack (formats: {', '.join(FORMATS)})")
            )
            continue
        content = _read_toml(path, problems)
        if content is not None:
            data[fmt] = content
    if problems:
        raise PackError(problems)
    return compile_pack(data, name)


def _read_toml(path: Path, problems: list[Problem]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as source:
            return tomllib.load(source)
    except tomllib.TOMLDecodeError as exc:
        problems.append(Problem(path.name, f"not valid TOML: {exc}"))
    except OSError as exc:
        problems.append(Problem(path.name, f"cannot be read: {exc.strerror or exc}"))
    return None


def write_pack(pack: Pack, folder: str | Path, description: str = "") -> list[Path]:
    """Write ``pack`` as a pack folder (created if needed): its manifest, one file per format
    and the schema. Returns the files written; OSError when the folder cannot be written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    manifest = {"name": pack.name, "description": description or (
        "Exported from noemie-sim's built-in tables: edit a format's file to speak your "
        "cahier des charges, then 'noemie-sim norms check' this folder.")}  # fmt: skip
    path = folder / MANIFEST
    path.write_text(toml_text(manifest, "noemie-sim norms pack"), encoding="utf-8")
    written.append(path)
    for fmt, data in pack.data.items():
        path = folder / f"{fmt}.toml"
        header = f"{FORMATS[fmt]}\n#:schema ./{SCHEMA_FILE}"
        path.write_text(toml_text(data, header), encoding="utf-8")
        written.append(path)
    path = folder / SCHEMA_FILE
    path.write_text(schema_text(), encoding="utf-8")
    written.append(path)
    return written


def schema_text() -> str:
    """The JSON Schema of a pack file, as published (docs/norms-pack.schema.json)."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


def keep_with_run(folder: Path) -> None:
    """Keep the pack this process speaks in run folder ``folder`` (``norms/``) unless it is the
    built-in one: what :func:`for_run` finds when the run is replayed. Its digest is in the
    run's journal (``run-started``), so a changed copy is refused."""
    speaking = active()
    if not speaking.builtin:
        write_pack(speaking, folder / RUN_FOLDER)


def for_run(run_dir: Path, digest: str | None) -> Pack:
    """The pack a run spoke, from the ``digest`` its journal recorded (None: a run made before
    packs, the built-in one): the pack this process speaks, the copy kept in the run folder,
    or the built-in one, whichever has that digest. PackError when none has."""
    candidates = [active(), BUILTIN]
    if digest is None:
        return BUILTIN
    kept = run_dir / RUN_FOLDER
    if kept.is_dir():
        candidates.insert(1, read_pack(kept))
    for pack in candidates:
        if pack.digest == digest:
            return pack
    raise PackError([Problem(str(run_dir), f"this run spoke the norms pack of digest {digest}, "
                             "which is neither the one given nor kept in the run folder: give "
                             "--norms DIR with that pack")])  # fmt: skip


def chosen(folder: str | None) -> Pack:
    """The pack a command speaks: ``folder`` (its ``--norms``), else the one
    ``NOEMIE_SIM_NORMS`` names, else the built-in one. PackError as :func:`read_pack`."""
    folder = folder or os.environ.get(ENVIRONMENT) or None
    return BUILTIN if folder is None else read_pack(folder)


# -- TOML, one field per line -------------------------------------------------------------------


def toml_text(data: dict[str, Any], comment: str = "") -> str:
    """``data`` as TOML whose arrays of tables inside a record (its fields, a group's slots)
    are inline, one per line. Only the shapes of a pack are handled: strings, integers,
    booleans, lists and tables."""
    lines = [f"# {line}" if not line.startswith("#") else line for line in comment.splitlines()]
    if lines:
        lines.append("")
    _table(lines, data, [])
    return "\n".join(lines).rstrip() + "\n"


def _table(lines: list[str], data: dict[str, Any], path: list[str]) -> None:
    sections = []
    for key, value in data.items():
        # a table of tables gets its section; so do the records, an array of tables at the top
        records = not path and isinstance(value, list) and value and isinstance(value[0], dict)
        if records or (isinstance(value, dict) and _has_sections(value)):
            sections.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value, multiline=True)}")
    for key, value in sections:
        here = [*path, _key(key)]
        if isinstance(value, list):
            for item in value:
                lines.extend(["", f"[[{'.'.join(here)}]]"])
                _table(lines, item, here)
        else:
            lines.extend(["", f"[{'.'.join(here)}]"])
            _table(lines, value, here)


def _has_sections(value: dict[str, Any]) -> bool:
    """True for a table worth its own section: one holding tables or lists of tables."""
    return any(isinstance(v, dict) or (isinstance(v, list) and v and isinstance(v[0], dict))
               for v in value.values())  # fmt: skip


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else json.dumps(key, ensure_ascii=False)


def _value(value: Any, *, multiline: bool = False) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # a JSON string is a TOML basic string: the same escapes (\\, \", \n, \uXXXX)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list):
        if multiline and value and isinstance(value[0], dict):
            return "[\n" + "".join(f"  {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")
