"""Norms packs: the layout tables as data a vendor edits, and the network speaking them.

The built-in tables exported and given back change nothing (same journal digest); an edited
pack (a moved field, a new choice, a field of its own) reaches every file the network emits,
which validate with it and are refused without it; a broken pack is refused by every command
with its place named; a pack travels to worker processes.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.shards import Finished, ProcessEngine
from noemie_sim.sim import packs
from noemie_sim.sim.journal import open_journal
from noemie_sim.sim.norms import kinds
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.pack import BUILTIN, PackError, compile_pack

from .web_helpers import serving

DOCS = Path(__file__).resolve().parent.parent / "docs"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def export(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str = "pack") -> Path:
    folder = tmp_path / name
    assert run(capsys, "norms", "export", str(folder))[0] == 0
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def vendor_dialect(folder: Path) -> None:
    """A vendor's edits: Type 0's creation time moved from 60 to 80, a version 002 allowed,
    and a field of its own (an optional flag at 65 of Type 2)."""
    b2 = folder / "b2.toml"
    edit(b2, '{ name = "created_at", start = 60,', '{ name = "created_at", start = 80,')
    edit(b2, 'choices = ["001"]', 'choices = ["001", "002"]')
    flag = ('  { name = "tiers_payant", start = 64, length = 1, picture = "X", label = '
            '"Dispense d\'avance de frais (O/N)", choices = ["O", "N"] },\n')  # fmt: skip
    edit(
        b2,
        flag,
        flag + '  { name = "vendor_flag", start = 65, length = 1, picture = "X", '
        'label = "Indicateur propre à l\'éditeur", optional = true, choices = ["V"] },\n',
    )
    edit(folder / "pack.toml", "noemie-sim built-in", "vendor dialect")


def test_the_built_in_tables_exported_and_read_back_are_the_same_pack(tmp_path: Path) -> None:
    packs.write_pack(BUILTIN, tmp_path / "pack")
    again = packs.read_pack(tmp_path / "pack")
    assert again.digest == BUILTIN.digest and again.builtin
    assert again.data == BUILTIN.data
    assert pickle.loads(pickle.dumps(again)).digest == BUILTIN.digest
    # every table the format modules use was compiled from pack data
    assert kinds.KINDS["b2"].layouts["2 "] is BUILTIN.tables["b2"][1]["2 "]  # type: ignore[index]


def test_export_then_run_demo_with_the_unchanged_pack_gives_the_same_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = export(tmp_path, capsys)
    code, out, _ = run(capsys, "norms", "check", str(folder))
    assert code == 0 and "the same tables as the built-in ones" in out
    assert run(capsys, "run", "demo", "--out", str(tmp_path / "plain"))[0] == 0
    assert run(capsys, "run", "demo", "--norms", str(folder), "--out", str(tmp_path / "pk"))[0] == 0
    digests = [open_journal(tmp_path / name).digest() for name in ("plain", "pk")]
    assert digests[0] == digests[1]
    assert not (tmp_path / "pk" / packs.RUN_FOLDER).exists()  # the built-in one is not kept


def test_an_edited_pack_reaches_the_files_which_validate_with_it_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = export(tmp_path, capsys)
    vendor_dialect(folder)
    code, out, _ = run(capsys, "norms", "check", str(folder))
    assert code == 0, out
    assert "b2: record '0 ' field created_at moved: 60+14 -> 80+14" in out
    assert "b2: record '0 ' field version choices: ['001'] -> ['001', '002']" in out
    assert "b2: record '2 ' field vendor_flag added at 65 (1 characters)" in out

    out_dir = tmp_path / "run"
    code, out, _ = run(capsys, "run", "demo", "--norms", str(folder), "--out", str(out_dir))
    assert code == 0, out
    emitted = sorted(out_dir.glob("files/*/*FSE*.clear")) + sorted(
        out_dir.glob("files/*/*DEC*.clear")
    )
    assert len(emitted) >= 4
    valid = set()
    for path in emitted:
        data = path.read_bytes()
        assert data[59:73] == b" " * 14 and re.fullmatch(rb"20\d{12}", data[79:93]), path.name
        code, out, _ = run(capsys, "validate", "--norms", str(folder), str(path))
        if code == 0:
            valid.add(data)
        # the demo's PS sends one lot with a wrong NIR key on purpose: nothing else is wrong
        said = [line for line in out.splitlines() if line.startswith("  - ")]
        assert all("NIR key is wrong" in line for line in said), out
        code, out, _ = run(capsys, "validate", str(path))
        assert code == 1 and "field created_at at position 60: not a date" in out
    assert len(valid) == len({p.read_bytes() for p in emitted}) - 1  # all but the wrong key

    # a vendor's own file: version 002 and its flag set on an invoice
    lot = next(p.read_bytes() for p in emitted if kinds.detect(p.read_bytes()).name == "b2")
    invoice = _record_at(lot, b"2 ")
    theirs = bytearray(lot)
    theirs[14:17] = b"002"
    theirs[invoice + 64 : invoice + 65] = b"V"
    path = tmp_path / "theirs.b2"
    path.write_bytes(bytes(theirs))
    code, out, _ = run(capsys, "validate", "--norms", str(folder), str(path))
    assert code == 0, out
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert "field version at position 15" in out and "field filler_65 at position 65" in out

    # explain speaks the pack too; verify names it; replay finds it in the run folder
    code, out, _ = run(capsys, "explain", "--norms", str(folder), str(path))
    assert code == 0 and "vendor_flag" in out and "Indicateur propre à l'éditeur" in out
    code, out, _ = run(capsys, "verify", str(out_dir))
    assert code == 0 and "norms: pack 'vendor dialect'" in out
    code, out, _ = run(capsys, "replay", str(out_dir))
    assert code == 0 and "identical journal" in out and "'vendor dialect'" in out
    started = open_journal(out_dir).events("run-started")[0]
    assert started.details["norms"] == packs.read_pack(folder).digest

    # the copy the run folder keeps, changed: replay refuses it (its digest is in the chain)
    # until --norms gives the pack the run spoke
    edit(out_dir / packs.RUN_FOLDER / "b2.toml", 'choices = ["001", "002"]', 'choices = ["001"]')
    code, _, err = run(capsys, "replay", str(out_dir))
    assert code == 2 and "give --norms DIR with that pack" in err
    code, out, _ = run(capsys, "replay", "--norms", str(folder), str(out_dir))
    assert code == 0 and "identical journal" in out


def _record_at(data: bytes, code: bytes) -> int:
    """The offset of the first 128-character record of type ``code``."""
    return next(i for i in range(0, len(data), 128) if data[i : i + 2] == code)


SENDER = ('{ name = "sender", start = 20,', '{ name = "sender", start = 19,')
LOT_DATE = (
    '  { name = "lot_date", start = 30, length = 8, picture = "AAAAMMJJ", '
    'label = "Date de constitution du lot" },\n',
    "",
)
FILE_ID = '{ name = "file_id", start = 50, length = 10, picture = "9"'
EXTRA = ' { name = "extra", start = 74, length = 2, picture = "9", label = "x" },'
BROKEN = [
    # (what is wrong, the file, the edit, what the refusal says)
    ("overlapping fields", "b2.toml", SENDER,
     "b2.toml, record '0 ', field sender: starts at 19, inside the field before it"),
    ("a field the actors need", "b2.toml", LOT_DATE,
     "b2.toml, record '1 ', field lot_date: missing: the network writes this field"),
    ("a length that does not add up", "arl.toml",
     ('{ name = "lot_count", start = 119, length = 3,',
      '{ name = "lot_count", start = 119, length = 12,'),
     "arl.toml, record 'A0', field lot_count: ends at 130, past the record's length 128"),
    ("a record of another length", "oc-answer.toml", ("length = 128\n", "length = 130\n"),
     "oc-answer.toml, record 'R0': length: 130, every record of a fixed framing is 128"),
    ("a date of the wrong width", "noemie-550.toml",
     ('picture = "AAAAMMJJHHMMSS"', 'picture = "AAAAMMJJ"'),
     "a AAAAMMJJ field is 8 characters, not 14"),
    ("a number made text", "noemie-580.toml", (FILE_ID, FILE_ID.replace('"9"', '"X"')),
     "record '000', field file_id: picture X holds text (X); the network gives this field a "
     "number"),
    ("a new field the network would have to fill", "b2.toml",
     ('label = "N° de fichier (unique par émetteur)" },',
      'label = "N° de fichier (unique par émetteur)" },' + EXTRA),
     "b2.toml, record '0 ', field extra: a field the network does not know must be optional"),
    ("a value of the wrong type", "arl.toml",
     ('start = 12, length = 9, picture = "X"', 'start = "12", length = 9, picture = "X"'),
     "arl.toml, record 'A0', field sender: start: '12' is not of type 'integer'"),
    ("a record whose code is not its first field", "arl.toml", ('code = "A9"', 'code = "A8"'),
     "arl.toml, record 'A8': the record must begin with a const field holding its code 'A8'"),
    ("a pattern that is not one", "b2.toml", ('pattern = "[0-9]{9}"', 'pattern = "[0-9"'),
     "is not a regular expression"),
    ("not TOML", "b2.toml", ("[[records]]", "[[records]"), "b2.toml: not valid TOML"),
    ("a NOEMIE slot naming no record", "noemie-580.toml",
     ('{ codes = ["290"], min = 0 }', '{ codes = ["291"], min = 0 }'),
     "noemie-580.toml: structure.contents.100: no record '291'"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "file", "change", "said"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_pack_is_refused_with_its_place(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    what: str,
    file: str,
    change: tuple[str, str],
    said: str,
) -> None:
    folder = export(tmp_path, capsys)
    edit(folder / file, *change)
    code, _, err = run(capsys, "norms", "check", str(folder))
    assert code == 2 and said in err, err
    assert "Traceback" not in err


def test_every_command_refuses_a_broken_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = export(tmp_path, capsys)
    edit(folder / "b2.toml", '{ name = "sender", start = 20,', '{ name = "sender", start = 19,')
    sample = tmp_path / "sample.b2"
    assert run(capsys, "generate", "b2", "--out", str(sample))[0] == 0
    commands = [
        ["validate", str(sample)], ["explain", "--sample", "b2"], ["samples", str(tmp_path / "s")],
        ["generate", "b2", "--out", str(tmp_path / "g.b2")],
        ["run", "demo", "--out", str(tmp_path / "r")],
        ["demo", "--out", str(tmp_path / "d")], ["replay", str(tmp_path / "r")],
        ["verify", str(tmp_path / "r")], ["serve", "demo", "--external", "ps"],
        ["campaign", "demo", "--runs", "2", "--out", str(tmp_path / "c")],
        ["report", str(tmp_path / "r")], ["trace", str(tmp_path / "r"), "--invoice", "1/1"],
    ]  # fmt: skip
    for argv in commands:
        code, _, err = run(capsys, *argv, "--norms", str(folder))
        assert code == 2, (argv, err)
        assert "b2.toml, record '0 ', field sender: starts at 19" in err, (argv, err)
    monkeypatch.setenv(packs.ENVIRONMENT, str(folder))
    code, _, err = run(capsys, "validate", str(sample))
    assert code == 2 and "the norms pack is refused" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "g.b2").exists()


def test_the_schema_is_published_and_the_pack_doc_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    published = json.loads((DOCS / "norms-pack.schema.json").read_text(encoding="utf-8"))
    assert published == norms_pack.SCHEMA, "python tools/gen_norms_doc.py rewrites it"
    folder = export(tmp_path, capsys)
    assert json.loads((folder / packs.SCHEMA_FILE).read_text(encoding="utf-8")) == published
    vendor_dialect(folder)
    code, out, _ = run(capsys, "norms", "doc", str(folder))
    assert code == 0 and "the tables of norms pack 'vendor dialect'" in out
    page = (folder / "norms.md").read_text(encoding="utf-8")
    assert "from the norms pack 'vendor dialect'" in page
    assert "| 80 | 14 | `created_at` |" in page and "| 65 | 1 | `vendor_flag` |" in page
    built_in = (DOCS / "norms.md").read_text(encoding="utf-8")
    assert "| 60 | 14 | `created_at` |" in built_in and "vendor_flag" not in built_in


class _Speaks:
    """A job telling which pack its worker speaks and what it says of a vendor's file."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def key(self) -> str:
        return "speaks"

    def __call__(self, channel: Any) -> tuple[str, int]:
        return norms_pack.active().digest, kinds.KINDS["b2"].findings(self.data).total


def test_worker_processes_speak_the_pack_of_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = export(tmp_path, capsys)
    vendor_dialect(folder)
    vendor = packs.read_pack(folder)
    norms_pack.install(vendor)
    sample = kinds.KINDS["b2"].sample()  # built with the vendor's tables
    assert kinds.KINDS["b2"].findings(sample).total == 0
    engine = ProcessEngine(1)
    (done,) = [m for m in engine.run([_Speaks(sample)]) if isinstance(m, Finished)]
    assert done.result == (vendor.digest, 0), done.error


def _mutations() -> st.SearchStrategy[tuple[str, int, str, Any]]:
    values = st.one_of(
        st.none(), st.booleans(), st.integers(-5, 300), st.text(max_size=20),
        st.lists(st.text(max_size=4), max_size=3), st.sampled_from(["9", "X", "const", "JJMMAA"]),
    )  # fmt: skip
    keys = st.sampled_from(["start", "length", "picture", "name", "value", "optional", "choices",
                            "pattern", "pivot", "label", "bogus"])  # fmt: skip
    return st.tuples(st.sampled_from(sorted(BUILTIN.data)), st.integers(0, 400), keys, values)


@given(_mutations())
def test_any_edit_of_a_field_compiles_or_is_refused_with_a_problem(
    mutation: tuple[str, int, str, Any],
) -> None:
    fmt, at, key, value = mutation
    data = json.loads(json.dumps(BUILTIN.data[fmt]))
    fields = [f for r in data["records"] for f in r["fields"]]
    field = fields[at % len(fields)]
    if value is None:
        field.pop(key, None)
    else:
        field[key] = value
    try:
        compiled = compile_pack({fmt: data}, "fuzzed")
    except PackError as exc:
        assert exc.problems and all(str(p).startswith(f"{fmt}.toml") for p in exc.problems)
    else:
        assert compiled.digest  # a harmless edit (a label, an extra choice...) is a pack


def test_the_live_api_speaks_and_names_the_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = export(tmp_path, capsys)
    vendor_dialect(folder)
    with serving("run", "demo", "--paused", "--norms", str(folder), "--out",
                 str(tmp_path / "run")) as served:  # fmt: skip
        served.wait_for_line("the clock is paused")
        http = served.http
        norms = http.get("/api/network").json()["norms"]
        assert norms == {"name": "vendor dialect", "digest": packs.read_pack(folder).digest,
                         "builtin": False}  # fmt: skip
        moved = http.post("/api/clock/advance", json={"until_event": "file-sent"}).json()
        file_id = moved["event"]["archive_id"]
        tree = http.get(f"/api/files/{file_id}/explain").json()
        header = tree["records"][0]["fields"]
        assert any(f["name"] == "created_at" for f in header)
        clear = http.get(f"/api/files/{file_id}/clear").content
        assert clear[59:73] == b" " * 14  # the creation time is at 80 in this dialect
        validation = http.get(f"/api/files/{file_id}/validation").json()
        # (the demo's first lot carries a wrong NIR key on purpose; its layout is right)
        assert all("NIR key is wrong" in a for a in validation["anomalies"]), validation


def test_the_vendors_pytest_plugin_speaks_the_pack_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = export(tmp_path, capsys)
    vendor_dialect(folder)
    suite = tmp_path / "vendor_suite"
    suite.mkdir()
    (suite / "test_mine.py").write_text(
        "from noemie_sim.sim.norms import kinds\n"
        "def test_speaks(noemie_norms):\n"
        "    assert noemie_norms.name == 'vendor dialect'\n"
        "    assert kinds.KINDS['b2'].layouts['0 '].field('created_at').start == 80\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)]
    given = subprocess.run([*command, "--noemie-norms", str(folder)], capture_output=True,
                           text=True, cwd=suite, check=False)  # fmt: skip
    assert given.returncode == 0, given.stdout + given.stderr
    edit(folder / "b2.toml", '{ name = "sender", start = 20,', '{ name = "sender", start = 19,')
    broken = subprocess.run([*command, "--noemie-norms", str(folder)], capture_output=True,
                            text=True, cwd=suite, check=False)  # fmt: skip
    assert broken.returncode == 1 and "field sender: starts at 19" in broken.stdout
