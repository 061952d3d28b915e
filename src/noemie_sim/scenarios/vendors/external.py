"""Real systems in place of simulated parties: connection kits, and the conformance verdict of
each external party, judged from the journal by the rules the simulated parties follow.

A kit (``kits/<ID>/``) holds everything a vendor's system needs and nothing of noemie-sim's
code: its key (0600) and certificate, the chain and the root, the sector CAs and the CRLs in
force (``crls.pem``, rewritten whenever the run publishes CRLs), the certificates of the
parties it exchanges with (``peers/``), ``known_hosts`` for the caisse's SFTP server, a
``connection.json``, a valid sample file and a README whose commands run as written from the
kit's folder (``sftp``, ``openssl``).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from noemie_sim.actors.network import Network, NetworkConfig, population_of
from noemie_sim.actors.practitioner import Practitioner
from noemie_sim.pki.authority import Pki, write_file
from noemie_sim.sim.calendar import add_jours_ouvres
from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain.population import build
from noemie_sim.sim.journal import Event
from noemie_sim.sim.norms import jsonform, oc_answer
from noemie_sim.sim.norms.kinds import KINDS
from noemie_sim.sim.transport.rest import JOSE, NAME_HEADER

from ..i18n import english, said

ROLES = ("ps", "oc", "employer", "cpam")


def party_roles(config: NetworkConfig) -> dict[str, str]:
    """Party id -> role of the network ``config`` builds (its population, without a PKI)."""
    population = build(config.seed, population_of(config))
    roles = {c.organisme: "cpam" for c in population.caisses}
    roles |= {p.ps_number: "ps" for p in population.practitioners}
    roles |= {m.oc_number: "oc" for m in population.mutuelles}
    roles |= {e.siret: "employer" for e in population.employers}
    return roles


def pick_externals(roles: dict[str, str], wanted: list[str]) -> list[str]:
    """Party ids for ``wanted`` (ids, or role names: the first party of that role not already
    picked); ValueError naming what is unknown."""
    picked: list[str] = []
    for who in wanted:
        if who in roles:
            party = who
        elif who in ROLES:
            free = sorted(p for p, r in roles.items() if r == who and p not in picked)
            if not free:
                raise ValueError(f"no {who} left to make external")
            party = free[0]
        else:
            raise ValueError(
                f"{who!r} is neither a party of this network nor a role ({', '.join(ROLES)})"
            )
        if party not in picked:
            picked.append(party)
    return picked


def write_kit(network: Network, party: str, folder: Path, webhook: str | None = None) -> Path:
    """The connection kit of external ``party`` in ``folder/<party>/``; returns that folder.
    ``webhook``: an external mutuelle's on the REST channel (its kit then says how documents
    reach it and how to answer, and holds the JSON Schemas of both kinds)."""
    pki = network.pki
    role = pki.role_of(party)
    if role == "cpam":
        return _caisse_kit(network, party, folder)
    actor = next(a for a in network.actors() if a.id == party)
    if role == "oc":
        caisses = sorted(network.cpams)
    else:
        caisses = [str(getattr(actor, "cpam", None) or _caisse_of(network, party))]
    kit = folder / party
    kit.mkdir(parents=True, exist_ok=True)
    home = pki.folder / "parties" / party
    write_file(kit / "key.pem", (home / "key.pem").read_bytes(), private=True)
    for name in ("cert.pem", "chain.pem"):
        shutil.copyfile(home / name, kit / name)
    shutil.copyfile(pki.folder / "root" / "cert.pem", kit / "root.pem")
    write_kit_crls(pki, kit)
    pki.on_publish.append(lambda: write_kit_crls(pki, kit))
    (kit / "peers").mkdir(exist_ok=True)
    for caisse in caisses:
        peer = pki.folder / "parties" / caisse / "cert.pem"
        shutil.copyfile(peer, kit / "peers" / f"{caisse}.pem")
    servers = []
    known_hosts = ""
    for caisse in caisses:
        host, port, lines = network.hub_info[caisse]
        known_hosts += lines
        servers.append({"caisse": caisse, "host": host, "port": port, "user": party,
                        "depot": "depot/", "retour": "retour/"})  # fmt: skip
    (kit / "known_hosts").write_text(known_hosts)
    connection: dict[str, Any] = {
        "party": party, "role": role, "servers": servers,
        "names": "upload NAME.part then rename it to NAME; letters, digits, . _ - only",
    }  # fmt: skip
    in_oc_form = any(party in c.noemie_oc for c in network.cpams.values())
    decomptes = "noemie-oc" if in_oc_form else "decompte"
    if role == "oc":
        connection["decomptes"] = {"kind": decomptes, "form": DECOMPTE_FORMS[decomptes][0]}
    if webhook is not None:
        connection["rest"] = {
            "webhook": webhook, "method": "POST", "content_type": JOSE, "name_header": NAME_HEADER,
            "answer": f"in the reply (200, {JOSE}), or POST /api/oc/answers of the --web server",
            "schemas": {k: f"schemas/{k}.schema.json" for k in (decomptes, "oc-answer")},
        }  # fmt: skip
        (kit / "schemas").mkdir(exist_ok=True)
        for kind in (decomptes, "oc-answer"):
            (kit / "schemas" / f"{kind}.schema.json").write_text(
                json.dumps(jsonform.schema(KINDS[kind]), indent=1, ensure_ascii=False) + "\n"
            )
    (kit / "connection.json").write_text(json.dumps(connection, indent=1) + "\n")
    first = servers[0]
    sample = ""
    if isinstance(actor, Practitioner):
        sample = "sample-lot.b2"
        (kit / sample).write_bytes(actor.sample_file(file_id=1))
    elif role == "oc":
        sample = "sample-answer.txt"
        answer = oc_answer.OcAnswer(party, caisses[0], 1, network.clock.now(), "0" * 64, 0)
        (kit / sample).write_bytes(oc_answer.build(answer))
        if webhook is not None:
            sample = "sample-answer.json"
            document = jsonform.to_json(oc_answer.build(answer))
            (kit / sample).write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    (kit / "README.md").write_text(
        _readme(party, "oc-rest" if webhook else role, first, sample, decomptes)
    )
    return kit


def _caisse_kit(network: Network, caisse: str, folder: Path) -> Path:
    """The kit of an external caisse: its identity, and what its SFTP server needs to let
    its partners in (their certificates and an authorized_keys file: user = partner id)."""
    pki = network.pki
    kit = folder / caisse
    (kit / "partners").mkdir(parents=True, exist_ok=True)
    home = pki.folder / "parties" / caisse
    write_file(kit / "key.pem", (home / "key.pem").read_bytes(), private=True)
    for name in ("cert.pem", "chain.pem"):
        shutil.copyfile(home / name, kit / name)
    shutil.copyfile(pki.folder / "root" / "cert.pem", kit / "root.pem")
    write_kit_crls(pki, kit)
    pki.on_publish.append(lambda: write_kit_crls(pki, kit))
    population = network.kernel.population if network.kernel else None
    assert population is not None
    partners = (
        [(p.ps_number, "ps") for p in population.practitioners if p.caisse == caisse]
        + [(m.oc_number, "oc") for m in population.mutuelles]
        + [(e.siret, "employer") for e in population.employers if e.caisse == caisse]
    )
    authorized = []
    for ident, _role in partners:
        cert = pki.certificate(ident)
        shutil.copyfile(
            pki.folder / "parties" / ident / "cert.pem", kit / "partners" / f"{ident}.pem"
        )
        line = cert.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        authorized.append(f"{line.decode()} {ident}")
    (kit / "authorized_keys").write_text("\n".join(authorized) + "\n")
    host, port, _known = network.hub_info[caisse]
    (kit / "connection.json").write_text(json.dumps(
        {"party": caisse, "role": "cpam", "server": {"host": host, "port": port},
         "partners": [{"id": i, "role": r} for i, r in partners],
         "mailboxes": "each partner logs in as its id and sees depot/ (what it sends) and "
                      "retour/ (what it receives)"},
        indent=1,
    ) + "\n")  # fmt: skip
    server = {"caisse": caisse, "port": port, "host": host}
    (kit / "README.md").write_text(_readme(caisse, "cpam", server, ""))
    return kit


def _caisse_of(network: Network, party: str) -> str:
    population = network.kernel.population if network.kernel else None
    assert population is not None
    for e in population.employers:
        if e.siret == party:
            return e.caisse
    raise ValueError(f"no caisse for {party}")


#: how a kit names the form of a mutuelle's décomptes, by kind, and the extension it gives a
#: file of that form (as `noemie-sim samples` does)
DECOMPTE_FORMS = {
    "decompte": ("B2, nature DEC", "dec"),
    "noemie-oc": ("NOEMIE OC, référence 408", "408"),
}


def _readme(
    party: str, role: str, server: dict[str, Any], sample: str, decomptes: str = "decompte"
) -> str:
    """The kit's README: the template's sections for this role, with the party's names,
    port and sample, and for a mutuelle the form of its décomptes (a kind of
    :data:`DECOMPTE_FORMS`), every command runnable as written from the kit's folder."""
    template = (resources.files("noemie_sim.scenarios.vendors") / "kit_readme.md").read_text(
        "utf-8"
    )
    sections = dict(re.findall(r"<!-- ([\w-]+) -->\n(.*?)(?=<!-- |\Z)", template, re.S))
    if role == "cpam":  # a caisse serves; it seals for its partners
        parts = [sections["cpam"], sections["cpam-tools"]]
    elif role == "oc-rest":  # a mutuelle over REST: no mailbox to use
        parts = [sections["oc-rest"]]
        role = "oc"
    else:
        parts = [sections[role], sections["common"]]
        parts += [sections["send"]] if role in SENDS else []
        parts.append(sections["receive"])
    text = f"# Connection kit of {party} ({role})\n\n" + "\n".join(p.strip() + "\n" for p in parts)
    beside = Path(sys.executable).parent / "noemie-sim"  # the command that made this kit
    values = {
        "PARTY": party, "CAISSE": str(server["caisse"]), "PORT": str(server["port"]),
        "HOST": str(server["host"]), "SAMPLE": sample, "DECOMPTE_KIND": decomptes,
        "DECOMPTES": DECOMPTE_FORMS[decomptes][0], "DECOMPTE_EXT": DECOMPTE_FORMS[decomptes][1],
        "UPLOAD": f"{SENDS.get(role)}-{party}-000001.p7m",
        "NOEMIE_SIM": str(beside) if beside.exists() else "noemie-sim",
    }  # fmt: skip
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


#: The prefix of the files each role sends (FSE lots, OC answers); an employer sends none.
SENDS = {"ps": "FSE", "oc": "OCR"}


def write_kit_crls(pki: Pki, kit: Path) -> None:
    """The kit's ``crls.pem`` (the CRLs in force), ``trust.pem`` (the root then those CRLs:
    ``openssl cms -verify`` reads CRLs from its ``-CAfile`` only) and ``cas.pem`` (the sector
    CAs), each written atomically: a vendor reading one while the run publishes sees the old
    or the new."""
    crls = pki.current_crls_pem()
    write_file(kit / "cas.pem", pki.intermediates_pem())
    write_file(kit / "crls.pem", crls)
    write_file(kit / "trust.pem", (pki.folder / "root" / "cert.pem").read_bytes() + crls)


# -- conformance ------------------------------------------------------------------------------
#
# Each external party is judged by named checks, each with the reasons it failed (empty when it
# passed). The party conforms when every check passes. The run's verdict (verdict.py) turns
# every check into one test case of the reports. Descriptions and reasons are said messages
# (i18n.said): in English in the report's fields, in the reader's language where shown.

#: a check: its name, what it checks, and the reasons it failed (none when it passed)
Check = tuple[str, dict[str, Any], list[dict[str, Any]]]


def _judged(party: str, role: str, checks: list[Check], **figures: Any) -> dict[str, Any]:
    listed: list[dict[str, Any]] = [
        {"name": name, "description": english(what), "passed": not why,
         "reasons": [english(r) for r in why], "said": {"description": what, "reasons": why}}
        for name, what, why in checks
    ]  # fmt: skip
    reasons = [r for c in listed for r in c["reasons"]]
    return {"party": party, "role": role, "verdict": "conform" if not reasons else "not conform",
            **figures, "checks": listed, "reasons": reasons}  # fmt: skip


def conformance(events: list[Event], party: str, role: str, end: datetime) -> dict[str, Any]:
    """What ``party`` did and whether it met its obligations, from the journal: its figures,
    its checks (name, description, passed, reasons) and its verdict."""
    if role == "ps":
        return _ps(events, party, end)
    if role == "oc":
        return _oc(events, party, end)
    if role == "cpam":
        return _cpam(events, party, end)
    received = [e for e in events if e.kind == "file-sent" and e.details.get("to") == party]
    return _judged(party, role, [_fetched_check(events, party, end)],
                   files_received=len(received))  # fmt: skip


#: A file put in an external party's retour/ this close to the end of the run may still be in
#: flight: not fetching it is no finding (the same grace as the network's lost files).
FETCH_GRACE_JOURS_OUVRES = 1


def _fetched_check(events: list[Event], party: str, end: datetime) -> Check:
    """``files-fetched``: every file the network put in ``party``'s retour/ was taken: read
    whole, or removed, as a real partner takes delivery (the hub journals both); those put
    there within :data:`FETCH_GRACE_JOURS_OUVRES` of the end excepted."""
    taken = {str(e.details.get("name")) for e in events
             if (e.actor == party and e.kind in ("file-fetched", "file-removed"))
             or (e.kind == "file-delivered" and e.details.get("to") == party)}  # fmt: skip
    # a document POSTed to its webhook (the REST channel): why it was not taken, the latest
    why = {
        str(e.details.get("name")): str(e.details.get("reason"))
        for e in events
        if e.kind in ("upload-failed", "file-undeliverable") and e.details.get("to") == party
    }
    left = []
    for e in events:
        name = str(e.details.get("name"))
        when = {"name": name, "at": _moment(e.at), "sender": e.actor}
        if (
            e.kind != "file-sent"
            or e.details.get("to") != party
            or name in taken
            or add_jours_ouvres(e.at, FETCH_GRACE_JOURS_OUVRES) >= end
        ):
            continue
        if e.details.get("channel") == "rest":
            last = said("{reply}", reply=why[name]) if name in why else said("none")
            left.append(said("{name} (POSTed to its webhook {at} by {sender}): not taken by "
                             "the end of the run (the last try: {last})", **when,
                             last=last))  # fmt: skip
        else:
            left.append(said("{name} (put in retour/ {at} by {sender}): not fetched by the "
                             "end of the run", **when))  # fmt: skip
    return ("files-fetched", said("every file put in its retour/ fetched (read whole) or "
            "removed, every document POSTed to its webhook taken (2xx), but those of the last "
            "jour ouvré"), left)  # fmt: skip


def _ps(events: list[Event], ps: str, end: datetime) -> dict[str, Any]:
    sent = [e for e in events if e.kind == "file-received" and e.details.get("sender") == ps]
    refused = [e for e in events if e.kind == "file-refused" and e.details.get("sender") == ps]
    acks = [e for e in events if e.kind == "arl-sent" and str(e.file).startswith(f"{ps}/")]
    outcome: dict[str, list[str]] = {"P": [], "N": [], "D": []}
    for e in acks:
        outcome.setdefault(e.details["status"], []).append(str(e.lot or e.file))
    negative, uncorrected = [], []
    for e in acks:
        if e.details["status"] != "N":
            continue
        labels = ", ".join(
            f"{c} {codes.ARL[c].label}" for c in e.details["codes"] if c in codes.ARL
        )
        deadline = add_jours_ouvres(e.at, 2)
        corrected = [a for a in acks if e.at < a.at <= deadline and a.details["status"] == "P"]
        lot = str(e.lot or e.file)
        negative.append(said("negative ARL for {lot}: {codes}", lot=lot, codes=labels))
        if not corrected and deadline <= end:
            uncorrected.append(said("no corrected lot accepted within 2 jours ouvrés of the "
                                    "negative ARL for {lot} ({deadline})", lot=lot,
                                    deadline=_moment(deadline)))  # fmt: skip
    checks: list[Check] = [
        ("sends-files", said("sent at least one file to its caisse"),
         [] if sent else [said("sent no file")]),
        ("files-readable", said("every file opened by the caisse (seal, certificate, format)"),
         [_refusal(e) for e in refused]),
        ("lots-accepted", said("every lot answered by a positive ARL"), negative),
        ("corrections-in-time", said("a corrected lot accepted within 2 jours ouvrés of each "
         "negative ARL (R161-47)"), uncorrected),
        _fetched_check(events, ps, end),
    ]  # fmt: skip
    return _judged(ps, "ps", checks, files_sent=len(sent), files_refused=len(refused),
                   lots_positive=len(outcome["P"]), lots_negative=len(outcome["N"]),
                   lots_duplicate=len(outcome["D"]))  # fmt: skip


def _oc(events: list[Event], oc: str, end: datetime) -> dict[str, Any]:
    decomptes = [e for e in events if e.kind == "file-sent" and e.details.get("to") == oc]
    answers = [e for e in events if e.kind == "oc-answer-received" and e.oc == oc]
    refused = [e for e in events if e.kind == "file-refused" and e.details.get("sender") == oc]
    answered = {str(e.file): e for e in answers}
    files = {f"{e.actor}/{int(str(e.details['name']).rsplit('-', 1)[1].split('.')[0])}": e
             for e in decomptes}  # fmt: skip
    missing, late = [], []
    for ident, sent in files.items():
        deadline = add_jours_ouvres(sent.at, 2)
        answer = answered.get(ident)
        if answer is None and deadline <= end:
            missing.append(said("décomptes {file} not answered within 2 jours ouvrés",
                                file=ident))  # fmt: skip
        elif answer is not None and answer.at > deadline:
            late.append(said("décomptes {file} answered late ({at})", file=ident,
                             at=_moment(answer.at)))  # fmt: skip
    rejected = sum(int(e.details.get("rejected", 0)) for e in answers)
    checks: list[Check] = [
        ("answers-readable",
         said("every answer opened by the caisse (seal, certificate, format)"),
         [_refusal(e) for e in refused]),
        ("answers-in-time", said("every décompte file answered within 2 jours ouvrés"),
         missing + late),
        _fetched_check(events, oc, end),
    ]  # fmt: skip
    return _judged(oc, "oc", checks, decompte_files=len(files), answers=len(answers),
                   answers_refused=len(refused), decomptes_rejected=rejected,
                   late=len(late))  # fmt: skip


def _cpam(events: list[Event], cpam: str, end: datetime) -> dict[str, Any]:
    """An external caisse, judged by what its partners journaled: an ARL for every lot file
    within 2 jours ouvrés, files its partners could open, a NOEMIE return for the PS whose
    lots it accepted within 7 jours ouvrés."""
    lot_files = [e for e in events if e.kind == "file-sent" and e.details.get("to") == cpam
                 and str(e.details.get("name", "")).startswith("FSE-")]  # fmt: skip
    arls: dict[str, Event] = {}
    for e in events:
        if e.kind == "arl-received" and e.file:
            arls.setdefault(str(e.file), e)
    from_caisse = {(e.actor, e.details.get("name")) for e in events
                   if e.kind == "file-received" and e.details.get("sender") == cpam}  # fmt: skip
    refused = [e for e in events if e.kind == "file-refused"
               and (e.actor, e.details.get("name")) in from_caisse]  # fmt: skip
    unreadable = [said("{partner} could not use {name}: {code} ({reason})", partner=e.actor,
                       name=str(e.details.get("name")), code=str(e.details.get("code")),
                       reason=str(e.details.get("reason"))) for e in refused]  # fmt: skip
    answered, arl_late = 0, []
    for sent in lot_files:
        number = int(str(sent.details["name"]).rsplit("-", 1)[1].split(".")[0])
        ident = f"{sent.actor}/{number}"
        deadline = add_jours_ouvres(sent.at, 2)
        ack = arls.get(ident)
        if ack is not None and ack.at <= deadline:
            answered += 1
        elif ack is not None:
            arl_late.append(said("ARL for {file} late ({at})", file=ident,
                                 at=_moment(ack.at)))  # fmt: skip
        elif deadline <= end:
            arl_late.append(said("no ARL for {file} within 2 jours ouvrés", file=ident))
    returns = {e.actor for e in events if e.kind == "noemie-received"
               and str(e.file or "").startswith(f"{cpam}/")}  # fmt: skip
    no_return = []
    for ps in sorted({str(a.actor) for a in arls.values() if a.details["status"] == "P"}):
        first = min(a.at for a in arls.values() if a.actor == ps and a.details["status"] == "P")
        if ps not in returns and add_jours_ouvres(first, 7) <= end:
            no_return.append(said("no NOEMIE return to {ps} within 7 jours ouvrés of an "
                                  "accepted lot", ps=ps))  # fmt: skip
    checks: list[Check] = [
        ("files-readable", said("every file opened by its partners"), unreadable),
        ("arl-in-time", said("an ARL for every lot file within 2 jours ouvrés"), arl_late),
        ("returns-in-time", said("a NOEMIE return within 7 jours ouvrés of an accepted lot"),
         no_return),
    ]  # fmt: skip
    return _judged(cpam, "cpam", checks, lot_files=len(lot_files), arl_in_time=answered,
                   files_refused_by_partners=len(refused))  # fmt: skip


def _moment(at: datetime) -> str:
    """A simulated time as the reasons quote it: day/month hour:minute."""
    return f"{at:%d/%m %H:%M}"


def _refusal(e: Event) -> dict[str, Any]:
    """A file refused on reception, its code and reason as the receiver journaled them."""
    return said("{name}: refused ({code}: {reason})", name=str(e.details.get("name")),
                code=str(e.details.get("code")), reason=str(e.details.get("reason")))  # fmt: skip
