"""``noemie-sim run``, ``report``, ``verify``, ``replay`` and ``demo``: scenarios from the
command line.

Exit codes (verdict.py): 0 pass (``replay``: the journal is identical; ``verify``: intact and
complete), 1 an SLA, expectation or conformance check failed (``replay``: the journal differs;
``verify``: the journal or its manifest was tampered with), 2 the scenario, the run folder or
an argument is not valid, 3 the run is incomplete (killed, stopped, its tail cut).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from noemie_sim.pki import attest
from noemie_sim.pki.authority import KeyPool
from noemie_sim.pki.errors import PkiError
from noemie_sim.scenarios import catalogue, shards
from noemie_sim.scenarios.catalogue import bundled
from noemie_sim.scenarios.reports import render as reports
from noemie_sim.scenarios.reports.narration import Narrator
from noemie_sim.scenarios.reports.trace import UnknownInvoice, trace
from noemie_sim.scenarios.reports.verdict import EXIT_CODES
from noemie_sim.scenarios.runner import play, recorded_scenario, report
from noemie_sim.scenarios.schema import Scenario, ScenarioError
from noemie_sim.sim import packs
from noemie_sim.sim.journal import (
    Journal,
    JournalError,
    check_run,
    first_difference,
    open_journal,
)
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.pack import PackError

from . import sharded, web
from .common import (
    H_,
    UsageError,
    add_alert_webhook,
    add_lang,
    alert_webhook,
    lang_of,
    write_output,
)


def find_scenario(name: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """A scenario file, or a bundled scenario by name (:mod:`..catalogue`); UsageError when
    it is invalid, or neither."""
    try:
        return catalogue.find_scenario(name, overrides)
    except ScenarioError as exc:
        if Path(name).is_file() or name in bundled():
            raise UsageError(f"invalid scenario: {exc}") from None
    raise UsageError(f"no scenario file {name!r}, and no bundled one: {', '.join(bundled())}")


def key_pool() -> KeyPool:
    """RSA keys reused across runs (test keys: generating them is most of a PKI's cost)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return KeyPool(cache / "noemie-sim" / "keys")


def make_console() -> Console:
    """The terminal, or 120 columns when the output is a file or a pipe."""
    # no emoji codes: a fingerprint's ":AB:" is text, not a picture
    screen = Console(emoji=False)
    return screen if screen.is_terminal else Console(width=120, emoji=False)


def _out(args: argparse.Namespace, name: str) -> Path:
    if args.out:
        out = Path(args.out)
        if (out / "journal.sqlite").exists() or (out / shards.MANIFEST).exists():
            raise UsageError(f"{out} already holds a run: choose another --out")
        return out
    return Path(tempfile.mkdtemp(prefix=f"noemie-sim-{name}-"))


def _write_reports(result: dict[str, Any], args: argparse.Namespace) -> None:
    try:
        if args.json:
            reports.write_json(result, args.json)
        if args.junit:
            reports.write_junit(result, args.junit)
        if args.html:
            reports.write_html(result, args.html, lang_of(args))
    except OSError as exc:
        raise UsageError(f"cannot write a report: {exc}") from None


def _play(
    scenario: Scenario,
    out: Path,
    console: Console,
    narrate: bool,
    args: argparse.Namespace | None = None,
    mode: str = "run",
) -> tuple[dict[str, Any], float]:
    """Play ``scenario`` in ``out`` with a progress bar (or the narration); with ``--web`` in
    ``args``, the live page and API are served beside it (:mod:`.web`). The report and the
    run's wall-clock seconds."""
    narrator = Narrator(console, lang_of(args))
    start, end = scenario.config.start, scenario.config.end
    total = (end - start).total_seconds()
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[now]}"),
        console=console, transient=True, disable=narrate or not console.is_terminal,
    ) as progress:  # fmt: skip
        task = progress.add_task(scenario.name, total=total, now="")

        def advance(now: datetime) -> None:
            progress.update(task, completed=(now - start).total_seconds(),
                            now=now.strftime("%a %d/%m %H:%M"))  # fmt: skip

        listener = narrator.tell if narrate else None
        try:
            if args is not None and args.web:
                result, live = web.play_with_web(
                    args, scenario, out, console, mode, play, on_built=narrator.learn,
                    keys=key_pool(), progress=advance, listener=listener,
                    alert_webhook=alert_webhook(args),
                )  # fmt: skip
                assert live.final is not None
                return live.final, float(live.final["wall_seconds"] or 0.0)
            result = asyncio.run(
                play(scenario, out, keys=key_pool(), progress=advance, listener=listener,
                     on_built=narrator.learn,
                     alert_webhook=alert_webhook(args) if args is not None else None)
            )  # fmt: skip
        except ScenarioError as exc:
            raise UsageError(f"invalid scenario: {exc}") from None
    wall = result.journal.info("wall_seconds") or 0.0
    result.journal.close()
    return report(out), float(wall)


def cmd_run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.scale is not None:
        overrides["scale"] = args.scale
    web.check_web(args)
    alert_webhook(args)  # refused before anything is made
    scenario = find_scenario(args.scenario, overrides)
    sharded.check_arguments(args, scenario)
    scenario = web.with_speed(scenario, args.speed)
    out = _out(args, scenario.name)
    console = make_console()
    console.print(
        f"running [bold]{scenario.name}[/] (seed {scenario.config.seed}) in {out}", soft_wrap=True
    )  # a path is never wrapped
    if scenario.shard_by:
        result, wall = sharded.play(args, scenario, out, console, sharded.pki_cache(), key_pool())
    else:
        result, wall = _play(scenario, out, console, narrate=False, args=args)
    lang = lang_of(args)
    reports.print_terminal(result, console, lang)
    console.print(lang._("run folder {out} ({seconds} s)", out=out, seconds=lang.decimal(wall)),
                  soft_wrap=True)  # a path is never wrapped  # fmt: skip
    _write_reports(result, args)
    return int(result["exit_code"])


def _sharded(folder: str) -> bool:
    """Whether a run folder holds a run sharded by caisse; UsageError for an unreadable
    manifest of one."""
    try:
        return shards.read_manifest(Path(folder)) is not None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _finished(folder: str, workers: int = 1) -> dict[str, Any]:
    """The report of a finished run; a sharded run's shards reported on ``workers``
    processes."""
    try:
        if _sharded(folder):
            return shards.report(Path(folder), workers=workers)
        return report(folder)
    except (JournalError, ScenarioError, ValueError) as exc:
        raise UsageError(f"{folder}: {exc}") from None


def _root(path: str | None) -> x509.Certificate | None:
    """The harness certificate given with ``--root``; None: check_run's default (this
    machine's harness)."""
    if path is None:
        return None
    try:
        return x509.load_pem_x509_certificate(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the certificate {path}: {exc}") from None


def cmd_report(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers: at least 1, not {args.workers}")
    result = _finished(args.run_dir, args.workers or os.cpu_count() or 1)
    reports.print_terminal(result, make_console(), lang_of(args))
    _write_reports(result, args)
    return int(result["exit_code"])


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        if _sharded(args.run_dir):
            return _verify_sharded(args)
        check = check_run(args.run_dir, _root(args.root))
    except (JournalError, ValueError) as exc:
        raise UsageError(f"{args.run_dir}: {exc}") from None
    console = make_console()
    colour = {"complete": "green", "incomplete": "yellow"}.get(check.state, "red")
    console.print(f"{args.run_dir}: [{colour}]{check.state}[/] ({check.events} events, "
                  f"digest {check.digest})")  # fmt: skip
    for problem in check.problems:
        console.print(f"  - {problem}")
    console.print(f"  signatures checked against {check.trusted}")
    if check.state != "tampered":
        journal = open_journal(args.run_dir)
        try:
            console.print(f"  {_norms_line(args.run_dir, _recorded_norms(journal))}")
        finally:
            journal.db.close()
    for warning in check.warnings:
        console.print(f"  [yellow]warning[/]: {warning}")
    if check.complete:
        console.print("  chain, signed checkpoints, end of the run, the manifest's signature "
                      "and the archived files check out")  # fmt: skip
    return {"complete": 0, "tampered": 1}.get(check.state, EXIT_CODES["incomplete"])


def cmd_harness(args: argparse.Namespace) -> int:
    try:
        harness = attest.local_harness()
    except PkiError as exc:
        raise UsageError(str(exc)) from None
    print(f"harness {harness.where}: certificate SHA-256 {attest.fingerprint(harness.cert)}")
    if args.export:
        write_output(args.export, harness.certificate_pem().encode())
        print(f"certificate written to {args.export}: give it to 'noemie-sim verify --root' "
              "where this machine's runs are checked")  # fmt: skip
    return 0


def _verify_sharded(args: argparse.Namespace) -> int:
    state, problems, digest = shards.verify(Path(args.run_dir), _root(args.root))
    console = make_console()
    colour = {"complete": "green", "incomplete": "yellow"}.get(state, "red")
    console.print(f"{args.run_dir}: [{colour}]{state}[/] (sharded run, digest {digest})")
    manifest = shards.read_manifest(Path(args.run_dir)) or {}
    console.print(f"  {_norms_line(args.run_dir, manifest.get('norms'))}")
    for problem in problems:
        console.print(f"  - {problem}")
    if state == "complete":
        console.print("  every shard's chain, end and signed manifest check out, and their "
                      "digests give the run's")  # fmt: skip
    return {"complete": 0, "tampered": 1}.get(state, EXIT_CODES["incomplete"])


def _trace_folder(run_dir: str, invoice: str) -> str:
    """The run folder holding an invoice: RUN_DIR, or for a sharded run the shard of the
    invoice's PS (the caisse whose hub has the PS's mailbox)."""
    if not _sharded(run_dir):
        return run_dir
    ps = invoice.split("/", 1)[0]
    for shard in sorted((Path(run_dir) / "shards").glob("*")):
        if (shard / "files" / ps).is_dir() or (shard / "hubs" / shard.name / ps).is_dir():
            return str(shard)
    raise UsageError(f"{run_dir}: no shard of this run has a PS {ps!r}")


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the way of one invoice through a run (:mod:`noemie_sim.scenarios.reports.trace`)."""
    try:
        args.run_dir = _trace_folder(args.run_dir, args.invoice)
        journal = open_journal(args.run_dir)
    except JournalError as exc:
        raise UsageError(f"{args.run_dir}: {exc}") from None
    try:
        hops = trace(journal, args.invoice)
    except UnknownInvoice:
        some = [str(e.invoice) for e in journal.events("invoice-billed")[:3]]
        hint = f" (invoices look like {', '.join(some)})" if some else " (it billed none)"
        raise UsageError(f"{args.run_dir}: no invoice {args.invoice!r} was billed{hint}") from None
    finally:
        journal.db.close()
    console = make_console()
    table = Table(title=f"invoice {args.invoice}")
    for column in ("simulated time", "after", "who", "what", "file"):
        table.add_column(column, justify="right" if column == "after" else "left")
    for hop in hops:
        after = "" if hop.since_previous_hours is None else _hours(hop.since_previous_hours)
        table.add_row(f"{hop.at:%Y-%m-%d %H:%M}", after, hop.actor, hop.what, hop.file or "")
    console.print(table)
    if hops:
        total = (hops[-1].at - hops[0].at).total_seconds() / 3600
        console.print(f"{len(hops)} hops, {_hours(total)} from billing to the last one")
    return 0


def _hours(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _replay_sharded(args: argparse.Namespace) -> int:
    try:
        state, problems, recorded = shards.verify(Path(args.run_dir))
        manifest = shards.read_manifest(Path(args.run_dir))
        assert manifest is not None
        scenario = shards.recorded_scenario(manifest)
        _speak_as_recorded(args.run_dir, manifest.get("norms"))
    except (ValueError, ScenarioError) as exc:
        raise UsageError(f"{args.run_dir}: {exc}") from None
    console = make_console()
    if state != "complete":
        console.print(f"{args.run_dir} is [yellow]{state}[/]: " + "; ".join(problems[:5]))
        console.print("its journals cannot be compared with a replay")
        return EXIT_CODES["incomplete"] if state == "incomplete" else 2
    engine = sharded.engine_of(args)
    try:
        with tempfile.TemporaryDirectory(prefix="noemie-sim-replay-") as folder:
            console.print(f"replaying [bold]{scenario.name}[/] (seed {scenario.config.seed}), "
                          f"{len(manifest['caisses'])} shards on {engine.workers} "
                          f"{engine.name} worker(s)")  # fmt: skip
            run = shards.run_sharded(scenario, Path(folder), engine, keys=key_pool(),
                                     pki_cache=sharded.pki_cache())  # fmt: skip
    finally:
        engine.close()
    if run.digest == recorded:
        console.print(f"[green]identical[/] journals: digest {run.digest}")
        return 0
    console.print(f"[red]different[/] journals: recorded {recorded}, replayed {run.digest}")
    return 1


def _recorded_norms(journal: Journal) -> str | None:
    """The digest of the norms pack a run's journal says it spoke (None: a run made before
    packs, which spoke the built-in tables)."""
    started = journal.events("run-started")
    return started[0].details.get("norms") if started else None


def _speak_as_recorded(run_dir: str, digest: str | None) -> None:
    """Speak the norms pack a run spoke, as its replay must (said when not the built-in)."""
    try:
        recorded = packs.for_run(Path(run_dir), digest)
    except PackError as exc:
        raise UsageError("; ".join(str(p) for p in exc.problems)) from None
    if not recorded.builtin:
        print(f"speaking the norms pack {recorded.name!r} the run spoke (digest {recorded.digest})")
    norms_pack.install(recorded)


def _norms_line(run_dir: str, digest: str | None) -> str:
    """What verify says of the norms pack a run spoke."""
    if digest is None or digest == norms_pack.BUILTIN.digest:
        return "norms: the built-in tables"
    try:
        kept = packs.for_run(Path(run_dir), digest)
    except PackError:
        return f"norms: a pack of digest {digest}, not kept in the run folder"
    return f"norms: pack {kept.name!r}, digest {digest} (kept in {packs.RUN_FOLDER}/)"


def cmd_replay(args: argparse.Namespace) -> int:
    if _sharded(args.run_dir):
        return _replay_sharded(args)
    try:
        check = check_run(args.run_dir)
        if check.state == "tampered":
            raise JournalError("; ".join(check.problems))
        journal = open_journal(args.run_dir)
        scenario = recorded_scenario(journal)
        recorded = journal.digest()
        _speak_as_recorded(args.run_dir, _recorded_norms(journal))
        externals = sorted(str(e.details["party"]) for e in journal.events("external-party"))
    except (JournalError, ScenarioError) as exc:
        raise UsageError(f"{args.run_dir}: {exc}") from None
    try:
        if externals:
            # what a real system did (its files, their timing) is not the simulation's to
            # redo: replaying without it would differ at its first file and prove nothing
            raise UsageError(
                f"{args.run_dir} was served with external parties ({', '.join(externals)}): "
                "their traffic came from real systems and cannot be replayed; "
                f"noemie-sim replay-traffic {args.run_dir} --against ID re-sends a system "
                "what the run sent it"
            )
        console = make_console()
        if not check.complete:
            console.print(f"{args.run_dir} is [yellow]incomplete[/]: " + "; ".join(check.problems))
            console.print("its journal cannot be compared with a replay")
            return EXIT_CODES["incomplete"]
        with tempfile.TemporaryDirectory(prefix="noemie-sim-replay-") as folder:
            console.print(f"replaying [bold]{scenario.name}[/] (seed {scenario.config.seed})")
            result = asyncio.run(play(scenario, folder, keys=key_pool()))
            digest = result.digest
            difference = None if digest == recorded else first_difference(journal, result.journal)
            result.journal.close()
    finally:
        journal.db.close()
    if digest == recorded:
        console.print(f"[green]identical[/] journal: digest {digest}")
        return 0
    console.print(f"[red]different[/] journal: recorded {recorded}, replayed {digest}")
    if difference is not None:
        console.print(f"first difference: {difference.describe()}", soft_wrap=True)
    return 1


def cmd_demo(args: argparse.Namespace) -> int:
    web.check_web(args)
    alert_webhook(args)  # refused before anything is made
    speed = args.speed if args.speed is not None else web.DEMO_WEB_SPEED if args.web else None
    scenario = web.with_speed(find_scenario("demo"), speed)
    out = _out(args, "demo")
    console = make_console()
    console.rule("noemie-sim demo")
    console.print(scenario.described(lang_of(args).code).strip())
    console.rule()
    result, wall = _play(scenario, out, console, narrate=True, args=args, mode="demo")
    lang = lang_of(args)
    console.rule(lang._("summary"))
    reports.print_terminal(result, console, lang)
    html = out / "report.html"
    reports.write_html(result, html, lang)
    console.print(
        lang._(
            "HTML report: {html}   (run folder {out}, {seconds} s)",
            html=html,
            out=out,
            seconds=lang.decimal(wall),
        ),
        soft_wrap=True,
    )  # a path is never wrapped
    return int(result["exit_code"])


def _add_reports(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="F", help=H_("write the JSON report to F"))
    parser.add_argument("--junit", metavar="F", help=H_("write a JUnit XML report to F"))
    parser.add_argument("--html", metavar="F", help=H_("write the HTML report to F"))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser(
        "run",
        help=H_("run a scenario and judge its SLAs and expectations"),
        description=H_(
            "Run a scenario (a TOML file, or a bundled one by name: {names}). Exit "
            "0 pass: every SLA and expectation holds; 1 one fails; 2 the scenario "
            "or an argument is invalid; 3 the run did not complete or the harness "
            "failed.",
            names=", ".join(bundled()),
        ),
        epilog=H_("example: noemie-sim run nominal-week --html report.html"),
    )
    run.add_argument("scenario", metavar="SCENARIO")
    run.add_argument("--seed", type=int, help=H_("replace the scenario's seed"))
    run.add_argument("--scale", type=float, help=H_("replace the scenario's scale (national-day)"))
    run.add_argument("--out", metavar="DIR", help=H_("run folder (default: a new temporary one)"))
    add_lang(run)
    run.add_argument("--speed", type=float,
                     help=H_("play in scaled time: simulated seconds per real second"))  # fmt: skip
    _add_reports(run)
    add_alert_webhook(run)
    web.add_web(run)
    sharded.add_arguments(run)
    run.set_defaults(handler=cmd_run)
    rep = sub.add_parser(
        "report",
        help=H_("the reports of a finished run"),
        description=H_(
            "Rebuild a run's reports and verdict from its folder (journal and manifest "
            "checked first). Exit 0 pass; 1 an SLA, expectation or conformance check failed; 2 the "
            "folder is not a run or its journal was tampered with; 3 the run is incomplete "
            "(killed, or its journal's tail cut): never a pass."
        ),
        epilog=H_("example: noemie-sim report RUN_DIR --junit sla.xml"),
    )
    rep.add_argument("run_dir", metavar="RUN_DIR")
    rep.add_argument(
        "--workers", type=int, metavar="N",
        help=H_("a run sharded by caisse: its shards' journals read on N processes of this "
                "machine (default: every core)"),
    )  # fmt: skip
    _add_reports(rep)
    add_lang(rep)
    rep.set_defaults(handler=cmd_report)
    ver = sub.add_parser(
        "verify",
        help=H_("check a run folder: journal chain, end of the run, signed manifest"),
        description=H_(
            "Check that RUN_DIR's journal is whole and untouched: every row against "
            "its hash chain, the signed checkpoints, the run-ended event, the manifest's event "
            "count and final digest, the manifest's signature by the harness (this machine's, or "
            "--root: never a key the run folder holds) and every archived file against the digest "
            "the manifest signs. Says what is wrong and where, and which certificate it trusted. "
            "Exit 0 intact and complete, 1 tampered with, 2 not a run folder, 3 incomplete."
        ),
        epilog=H_("example: noemie-sim verify RUN_DIR --root harness.pem"),
    )
    ver.add_argument("run_dir", metavar="RUN_DIR")
    ver.add_argument("--root", metavar="CERT",
                     help=H_("the harness certificate to trust (PEM: 'noemie-sim harness --export' "
                     "on the machine that ran it; default: this machine's harness)"))  # fmt: skip
    ver.set_defaults(handler=cmd_verify)
    harness = sub.add_parser(
        "harness",
        help=H_("the harness identity that signs runs (outside any run folder)"),
        description=H_(
            "Show this machine's harness identity: the Ed25519 key that signs every "
            "run's checkpoints and manifest, kept in the user's data directory (or given with "
            "--harness-key), never in a run folder; with --export, write its certificate, which "
            "'noemie-sim verify --root' trusts on another machine."
        ),
        epilog=H_("example: noemie-sim harness --export harness.pem"),
    )
    harness.add_argument("--export", metavar="FILE", help=H_("write the certificate (PEM) to FILE"))
    harness.set_defaults(handler=cmd_harness)
    replay = sub.add_parser(
        "replay",
        help=H_("run a recorded scenario again and compare the journals"),
        description=H_(
            "Re-run the scenario and seed recorded in RUN_DIR; exit 0 when the journal "
            "digest is identical, 1 when it differs, 2 when RUN_DIR is not a run or was tampered "
            "with, 3 when the recorded run is incomplete."
        ),
        epilog=H_("example: noemie-sim replay RUN_DIR"),
    )
    replay.add_argument("run_dir", metavar="RUN_DIR")
    sharded.add_arguments(replay)
    replay.set_defaults(handler=cmd_replay)
    follow = sub.add_parser(
        "trace",
        help=H_("follow one invoice through a run, hop by hop"),
        description=H_(
            "Every event and file of one invoice of RUN_DIR, from the PS's billing to "
            "the mutuelle's payment (lot, ARL, liquidation, NOEMIE return, payment, décompte, the "
            "mutuelle's payment or reject and its answer), with the delay of each hop. Exit 0, or "
            "2 when RUN_DIR is not a run folder or billed no such invoice."
        ),
        epilog=H_("example: noemie-sim trace RUN_DIR --invoice 751156092/4"),
    )
    follow.add_argument("run_dir", metavar="RUN_DIR")
    follow.add_argument(
        "--invoice",
        required=True,
        metavar="PS/NUMBER",
        help=H_("the invoice as the journal names it: PS number/invoice number"),
    )
    follow.set_defaults(handler=cmd_trace)
    demo = sub.add_parser(
        "demo",
        help=H_("a small network, narrated as it runs, with an HTML report"),
        description=H_(
            "The bundled demo scenario: the flows told as they happen, a summary and "
            "an HTML report in the run folder."
        ),
        epilog=H_(
            "examples: noemie-sim demo --out demo-run; noemie-sim demo --web (then open the "
            "printed address)"
        ),
    )
    demo.add_argument("--out", metavar="DIR", help=H_("run folder (default: a new temporary one)"))
    demo.add_argument("--speed", type=float,
                      help=H_("play in scaled time: simulated seconds per real second (with "
                              "--web: {speed:g}, its week in about three minutes)",
                              speed=web.DEMO_WEB_SPEED))  # fmt: skip
    add_alert_webhook(demo)
    add_lang(demo)
    web.add_web(demo)
    demo.set_defaults(handler=cmd_demo)
