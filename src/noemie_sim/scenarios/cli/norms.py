"""``noemie-sim validate``, ``explain`` and ``samples``: the file formats."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from noemie_sim.pki.errors import PkiError
from noemie_sim.sim import packs
from noemie_sim.sim.norms import doc, jsonform, kinds
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.errors import FormatError
from noemie_sim.sim.norms.pack import Pack, PackError

from .common import H_, UsageError, add_at, add_max_bytes, moment_for_pki, read_file, write_output

KIND_NAMES = ", ".join(kinds.KINDS)
#: Anomalies listed by validate; the count says how many there are in all.
MAX_LISTED = 1000
#: File name extension of each kind when samples are written.
EXTENSIONS = {
    "b2": "b2",
    "arl": "arl",
    "noemie-ps": "580",
    "decompte": "dec",
    "oc-answer": "ocr",
    "noemie-550": "550",
    "noemie-oc": "408",
}


def cmd_validate(args: argparse.Namespace) -> int:
    data = read_file(args.file, args.max_bytes)
    try:
        kind = kinds.resolve(data, args.kind)
    except FormatError as exc:
        print(f"{args.file}: not valid\n  - {exc.anomaly.describe()}")
        return 1
    found = kind.findings(data, MAX_LISTED)
    if not found.total:
        print(f"{args.file}: valid {kind.name} ({kind.title})")
        return 0
    print(f"{args.file}: not a valid {kind.name}, {found.total} anomalie(s)")
    for a in found.kept:
        print(f"  - {a.describe()}")
    if found.total > len(found.kept):
        print(f"  ... and {found.total - len(found.kept)} more (listing stopped at {MAX_LISTED})")
    return 1


def cmd_convert(args: argparse.Namespace) -> int:
    data = read_file(args.file, args.max_bytes)
    try:
        if args.to == "json":
            document = jsonform.to_json(data, kinds.resolve(data, args.kind))
            converted = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()
        else:
            try:
                document = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise UsageError(f"{args.file}: not JSON: {exc}") from None
            except RecursionError:
                raise UsageError(f"{args.file}: not JSON: nested too deep") from None
            converted = jsonform.from_json(document)
    except FormatError as exc:
        raise UsageError(f"{args.file}: cannot convert: {exc.anomaly.describe()}") from None
    if args.out:
        write_output(args.out, converted)
    else:
        sys.stdout.buffer.write(converted)
        sys.stdout.flush()
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    if (args.file is None) == (args.sample is None):
        raise UsageError("give either a FILE or --sample KIND")
    if args.sample is not None:
        data, source = kinds.KINDS[args.sample].sample(), f"sample {args.sample}"
    else:
        data, source = read_file(args.file, args.max_bytes), args.file
    try:
        kind = kinds.resolve(data, args.kind)
    except FormatError as exc:
        print(f"{source}: not a file noemie-sim knows\n  - {exc.anomaly.describe()}")
        return 1
    lines, found = kinds.explain(data, kind)
    if not lines:
        print(f"{source}: cannot be decoded as {kind.name}")
        lines = [f"  - {a.describe()}" for a in found.kept]
        if found.total > len(found.kept):
            lines.append(f"  ... and {found.total - len(found.kept)} more")
    print("\n".join(lines))
    return 1 if found.total else 0


def cmd_samples(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, kind in kinds.KINDS.items():
            path = out / f"sample.{EXTENSIONS[name]}"
            path.write_bytes(kind.sample())
            print(f"{path}  ({name}: {kind.title})")
    except OSError as exc:
        raise UsageError(f"cannot write samples to {out}: {exc.strerror or exc}") from None
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "validate",
        help=H_("check a file against its norm and list every anomaly"),
        description="Check a file: field formats, record order, check keys (NIR, n° AM, SIRET), "
        "control totals and counts. Exit 0 when valid, 1 listing every anomaly (record, field, "
        "position, expected, found), 2 when the file cannot be read.",
        epilog="example: noemie-sim validate lot.b2",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kind", choices=list(kinds.KINDS), help=f"skip detection ({KIND_NAMES})")
    add_max_bytes(p)
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser(
        "convert",
        help=H_("a file's fixed-width and JSON forms, one into the other"),
        description="Convert FILE to its JSON form (--to json: each record with its fields by "
        "name and typed value; the schema of every kind in docs/schemas/ and at the API's "
        "/api/schemas/{kind}) or a JSON document back to the fixed-width file (--to fixed), "
        "with the layouts of the norms pack in force. Exit 0 converted, 2 when the input "
        "cannot be read or converted (the record and field at fault are named).",
        epilog="example: noemie-sim convert DEC-001.txt --to json --out DEC-001.json",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--to", choices=["json", "fixed"], required=True)
    p.add_argument("--kind", choices=list(kinds.KINDS), help="skip detection (--to json)")
    p.add_argument("--out", metavar="F", help="write to F (default: standard output)")
    add_max_bytes(p)
    p.set_defaults(handler=cmd_convert)

    p = sub.add_parser(
        "explain",
        help=H_("show a file as a readable tree of records and fields"),
        description="Print a file as an indented tree: each record or NOEMIE entity with its "
        "label (NOP-ENT, Type 2...), each field's name, value and meaning, then the result of "
        "the control checks. Exit codes as for validate.",
        epilog="examples: noemie-sim explain --sample noemie-ps\n"
        "          noemie-sim explain retour.580",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", nargs="?")
    p.add_argument("--sample", choices=list(kinds.KINDS), help="explain a bundled sample file")
    p.add_argument("--kind", choices=list(kinds.KINDS), help="skip detection")
    add_max_bytes(p)
    p.set_defaults(handler=cmd_explain)

    p = sub.add_parser(
        "samples",
        help=H_("write a valid sample file of every kind"),
        description="Write one valid sample file of every kind into DIR, built by the codecs: "
        "a starting point for a vendor's own files.",
        epilog="example: noemie-sim samples ./samples",
    )
    p.add_argument("out", metavar="DIR")
    p.set_defaults(handler=cmd_samples)


def _read_pack(folder: str) -> Pack:
    try:
        return packs.read_pack(folder)
    except PackError as exc:
        raise UsageError(pack_refused(exc)) from None


def pack_refused(exc: PackError) -> str:
    """The message of a refused pack: every problem on its own line, with its place."""
    return "the norms pack is refused:\n" + "\n".join(f"  - {p}" for p in exc.problems)


def cmd_norms_export(args: argparse.Namespace) -> int:
    speaking = norms_pack.active()
    if Path(args.dir).exists() and any(Path(args.dir).glob("*.toml")) and not args.force:
        raise UsageError(f"{args.dir} already holds a pack (--force overwrites it)")
    try:
        written = packs.write_pack(speaking, args.dir)
    except OSError as exc:
        raise UsageError(f"cannot write {args.dir}: {exc.strerror or exc}") from None
    print(f"{args.dir}: norms pack {speaking.name!r}, digest {speaking.digest}, "
          f"{len(written)} files")  # fmt: skip
    for path in written:
        print(f"  {path.name}")
    print(f"edit a format's file, then: noemie-sim norms check {args.dir}")
    return 0


def cmd_norms_check(args: argparse.Namespace) -> int:
    checked = _read_pack(args.dir)
    changes = norms_pack.differences(norms_pack.BUILTIN, checked)
    print(f"{args.dir}: valid norms pack {checked.name!r}, digest {checked.digest}")
    if not changes:
        print("  the same tables as the built-in ones")
    else:
        print(f"  {len(changes)} difference(s) from the built-in tables:")
        for line in changes:
            print(f"  - {line}")
    return 0


def cmd_norms_doc(args: argparse.Namespace) -> int:
    documented = _read_pack(args.dir)
    out = Path(args.out) if args.out else Path(args.dir) / "norms.md"
    norms_pack.install(documented)
    write_output(str(out), doc.render(f"{documented.name!r} (digest {documented.digest})").encode())
    print(f"{out}: the tables of norms pack {documented.name!r}")
    return 0


def register_packs(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "norms",
        help=H_("export, check and document a norms pack (your own layout tables)"),
        description="A norms pack is a folder of TOML files, one per format, holding every "
        "layout table: records, fields (position, length, picture, choices, pattern, label, "
        "source), framing and NOEMIE structure. Export the built-in one, edit it to follow your "
        "cahier des charges, check it, then give it to any command with --norms DIR (or "
        f"{packs.ENVIRONMENT}=DIR). docs/norms-packs.md says what a pack may change.",
        epilog="examples: noemie-sim norms export ./my-norms\n"
        "          noemie-sim norms check ./my-norms\n"
        "          noemie-sim run demo --norms ./my-norms --out run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="norms_action", metavar="ACTION", required=True)
    a = actions.add_parser("export", help="write the tables this command speaks as a pack",
                           description="Write the built-in tables (or those of the pack "
                           f"${packs.ENVIRONMENT} names) as a pack folder: the starting point "
                           "you edit.")  # fmt: skip
    a.add_argument("dir", metavar="DIR")
    a.add_argument("--force", action="store_true", help="overwrite a pack already in DIR")
    a.set_defaults(handler=cmd_norms_export)
    a = actions.add_parser(
        "check",
        help="check a pack and say how it differs from the built-in",
        description="Check a pack folder against the schema and against what "
        "the network needs; print what it changes from the built-in tables "
        "(records and fields added, removed, moved or changed). Exit 0 when "
        "valid, 2 listing each problem with its file, record and field.",
    )
    a.add_argument("dir", metavar="DIR")
    a.set_defaults(handler=cmd_norms_check)
    a = actions.add_parser("doc", help="write the Markdown tables of a pack",
                           description="Write docs/norms.md's tables for a pack: DIR/norms.md "
                           "unless --out FILE.")  # fmt: skip
    a.add_argument("dir", metavar="DIR")
    a.add_argument("--out", metavar="FILE")
    a.set_defaults(handler=cmd_norms_doc)


def cmd_generate(args: argparse.Namespace) -> int:
    recipient = None
    try:
        if args.sender is not None:
            if args.pki is None:
                raise UsageError("--from needs --pki DIR (the run's pki/ folder, or a PKI)")
            data, recipient = _fresh(args)
        elif args.pki or args.lot or args.file or args.to:
            raise UsageError("--pki, --lot, --file and --to go with --from ID")
        else:
            from noemie_sim.sim.domain.generate import generate  # the population, when asked

            data = generate(args.kind, args.seed, 10 if args.count is None else args.count)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    write_output(args.out, data)
    anomalies = kinds.KINDS[args.kind].validate(data)
    told = f" from {args.sender} to {recipient}, ready to seal" if recipient else ""
    print(
        f"{args.out}: {args.kind}, {len(data)} bytes, seed {args.seed}{told}"
        + ("" if not anomalies else f", {len(anomalies)} anomalies (a defect: please report)")
    )
    return 1 if anomalies else 0


def _fresh(args: argparse.Namespace) -> tuple[bytes, str]:
    from noemie_sim.scenarios.vendors.fresh import fresh_file  # a run's network, when asked

    at = moment_for_pki(args, args.pki)
    try:
        return fresh_file(
            args.kind, args.sender, Path(args.pki), file_id=args.file or 1, lot_number=args.lot,
            to=args.to, at=at, count=3 if args.count is None else args.count, seed=args.seed,
        )  # fmt: skip
    except PkiError as exc:
        raise UsageError(str(exc)) from None


def register_generate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "generate",
        help=H_("generate a realistic file of a kind from a synthetic population"),
        description="Build a seeded synthetic population (Faker fr_FR) and generate a file of "
        "KIND whose identifiers are valid and whose amounts follow the rules of the care date "
        "(tariffs, AMO rates, participation forfaitaire, franchises, mutuelle grids, IJ). The "
        "same seed gives the same file.",
        epilog="example: noemie-sim generate b2 --out lot.b2 --seed 7 --count 40",
    )
    p.add_argument("kind", choices=list(kinds.KINDS), metavar="KIND", help=KIND_NAMES)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--count", type=int, help="invoices or IJ lines (1-5000, default 10; with --from: 3)"
    )
    fresh = p.add_argument_group(
        "a fresh file for a kit identity",
        "With --from ID and --pki DIR (a run's pki/ folder): a new valid file that party sends, "
        "for the caisse it belongs to, ready to seal: b2 for a PS (one lot of --count FSE, "
        "default 3, for assurés of its caisse; invoices numbered FILE x 100 + k), oc-answer for "
        "a mutuelle (the acknowledgement of décompte file --file of caisse --to). Numbering "
        "rules: docs/vendors.md.",
    )
    fresh.add_argument("--from", dest="sender", metavar="ID", help="the sending party")
    fresh.add_argument("--pki", metavar="DIR", help="the run's pki/ folder")
    fresh.add_argument("--file", type=int, metavar="N", help="file number (default 1)")
    fresh.add_argument("--lot", type=int, metavar="N", help="lot number (default: N mod 999)")
    fresh.add_argument("--to", metavar="ID", help="the caisse answered (oc-answer)")
    add_at(fresh, "the file's date (default: the run's simulated now)")
    p.set_defaults(handler=cmd_generate)
