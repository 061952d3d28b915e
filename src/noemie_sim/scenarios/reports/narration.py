"""The narration of a run: its events told in words a newcomer follows (the demo's terminal,
the live page's side panel), in French or English (:mod:`..i18n`).

Every kind of event the network can journal has its sentence (:data:`SENTENCES`), naming
people and organisations rather than numbers. The story a trainer shows (:meth:`Narrator.line`)
tells the events that make the flows: the lots, their ARLs, payments, returns, décomptes and
their answers, sick leaves and IJ, the faults and what they cause; the bookkeeping of the
exchange (every file received, each invoice billed, checkpoints) has its sentence too
(:meth:`Narrator.sentence`) but is not in the story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from noemie_sim.actors.network import Network
from noemie_sim.sim.domain import codes
from noemie_sim.sim.journal import Event

from ..i18n import N_, Language, language


@dataclass(frozen=True)
class Chapter:
    """A chapter of the guided tour: the kind of event that opens it, its title, what just
    happened and the file that carries it (messages of the catalogue, in English here)."""

    number: int
    kind: str
    title: str
    explanation: str
    carried_by: str
    #: the chapter opens at a file sent whose name starts so (its kind is then file-sent)
    file_prefix: str = ""
    #: the kind of event a jump to the chapter waits for (default: ``kind``)
    jump_kind: str = ""

    def opens_at(self, e: Event) -> bool:
        if e.kind != self.kind:
            return False
        return not self.file_prefix or str(e.details.get("name", "")).startswith(self.file_prefix)

    def told(self, lang: Language) -> dict[str, Any]:
        """The chapter in ``lang``, as the API and the page show it."""
        return {"number": self.number, "kind": self.jump_kind or self.kind,
                "title": lang._(self.title),
                "explanation": lang._(self.explanation),
                "carried_by": lang._(self.carried_by)}  # fmt: skip


#: the guided tour of the flows, in the order the demo shows them; each chapter opens at the
#: first event of its kind (the employer's allowances come last: they are paid after the leave)
CHAPTERS = tuple(Chapter(n, *chapter) for n, chapter in enumerate((
    ("lot-sent", N_("The lot is sent"),
     N_("A practitioner's software gathers the day's electronic claims (FSE) into a lot, signs "
        "and encrypts it, and puts it on the caisse's SFTP server."),
     N_("an FSE lot file (norme B2)")),
    ("arl-sent", N_("The ARL comes back"),
     N_("The caisse checks the lot and answers with an acknowledgement (ARL): positive, the lot "
        "is accepted; negative, it says which record is wrong and the practitioner sends the "
        "lot again, corrected."),
     N_("an ARL file")),
    ("invoice-liquidated", N_("The caisse pays"),
     N_("At its evening batch the caisse settles each invoice (tariff, rate, participation, "
        "franchise) and pays the practitioner what the patient did not pay (tiers payant)."),
     N_("a bank transfer, announced in the NOEMIE return")),
    ("file-sent", N_("The NOEMIE return"),
     N_("With the payment, the caisse sends the practitioner its return: each invoice paid or "
        "rejected, with its amounts and codes, to reconcile with what was billed."),
     N_("a NOEMIE return file (580)"), "NOE", "noemie-received"),
    ("decompte-sent", N_("The décompte goes to the mutuelle"),
     N_("When the patient's mutuelle has a NOEMIE link, the caisse forwards the décompte of "
        "each paid invoice: the mutuelle pays its share with no paper from the patient."),
     N_("a décompte file (B2, nature DEC)")),
    ("oc-answer-sent", N_("The mutuelle pays or rejects"),
     N_("The mutuelle matches each décompte with a contract and pays its part, or rejects it "
        "with a code (unknown person, contract ended, amounts inconsistent)."),
     N_("an OC answer file")),
    ("fault", N_("A fault and its recovery"),
     N_("Something goes wrong on purpose: a broken record, a server down, a revoked "
        "certificate. Watch how the network notices it and recovers."),
     N_("whatever the fault touches")),
    ("ij-sent", N_("The employer's daily allowances"),
     N_("An employee is on sick leave and the employer keeps paying the salary (subrogation): "
        "the caisse pays the daily allowances (IJ) to the employer."),
     N_("a NOEMIE 550 file")),
), start=1))  # fmt: skip


def chapter_of(e: Event) -> Chapter | None:
    """The chapter an event opens or goes on with (None for the others)."""
    return next((c for c in CHAPTERS if c.opens_at(e)), None)


class Narrator:
    """Tells the flows as they happen, in words a newcomer follows: to a terminal (``tell``),
    or as plain lines (``line``, for the live page), in ``lang`` (English by default)."""

    def __init__(self, console: Console | None = None, lang: Language | None = None) -> None:
        self.console = console
        self.lang = lang or language("en")
        self.names: dict[str, str] = {}
        self.people: dict[str, str] = {}  # NIR -> first name and surname
        self.day = ""
        self.chapters_told: set[int] = set()  # the chapters whose heading the story printed

    def learn(self, network: Network) -> None:
        population = network.kernel.population if network.kernel else None
        if population is None:
            return
        for c in population.caisses:
            self.names[c.organisme] = f"CPAM {c.name}"
        for p in population.practitioners:
            self.names[p.ps_number] = f"Dr {p.last_name.upper()}"
        for m in population.mutuelles:
            self.names[m.oc_number] = m.name
        for e in population.employers:
            self.names[e.siret] = e.name
            for employee in e.employees:
                self.people[employee.nir] = f"{employee.first_name} {employee.last_name.upper()}"
        for insured in population.insured:
            for b in insured.beneficiaries:
                self.people[b.nir] = f"{b.first_name} {b.last_name.upper()}"

    def name(self, ident: object) -> str:
        return self.names.get(str(ident), str(ident))

    def person(self, nir: object) -> str:
        """A person by name (the NIR when the population does not know it)."""
        return self.people.get(str(nir), str(nir))

    def line(self, e: Event) -> str | None:
        """The event told in one plain line (no markup), None when it is not in the story."""
        line = self._story(e)
        return None if line is None else Text.from_markup(line).plain

    def sentence(self, e: Event) -> str:
        """Any event told in one plain line, in the story or not."""
        return Text.from_markup(self._sentence(e)).plain

    def tell(self, e: Event) -> None:
        """Print the event's line when it is in the story, headed by the day when it changes
        and by the chapter of the guided tour it opens (an event out of the story may open
        one: the caisse forwarding a décompte)."""
        if self.console is None:
            return
        line = self._story(e)
        chapter = chapter_of(e)
        opens = chapter is not None and chapter.number not in self.chapters_told
        if line is None and not opens:
            return
        day = self.lang.day(e.at.date())
        if day != self.day:
            self.day = day
            self.console.rule(day, style="dim")
        if chapter is not None and opens:
            self.chapters_told.add(chapter.number)
            told = chapter.told(self.lang)
            heading = self.lang._("Chapter {number}: {title}", number=chapter.number,
                                  title=told["title"])  # fmt: skip
            carried = self.lang._("carried by: {file}", file=told["carried_by"])
            self.console.print(f"\n[bold cyan]{heading}[/]\n[italic]{told['explanation']}[/] "
                               f"[dim]({carried})[/]")  # fmt: skip
        if line is not None:
            self.console.print(f"[dim]{e.at:%H:%M}[/] {line}")

    def _story(self, e: Event) -> str | None:
        return self._sentence(e) if in_story(e) else None

    def _sentence(self, e: Event) -> str:
        told = SENTENCES.get(e.kind)
        if told is None:  # a kind this version does not know (a newer run's journal)
            return f"[bold]{self.name(e.actor)}[/] {e.kind}"
        return told(_Telling(self, e))


def in_story(e: Event) -> bool:
    """Whether the event is one the story tells (see the module)."""
    d = e.details
    if e.kind == "file-sent":
        return str(d.get("name", "")).startswith(("NOE", "DEC", "IJ"))
    if e.kind == "decompte-rejected":
        return e.actor == e.oc  # the mutuelle's; the caisse's is its echo
    if e.kind == "invoice-liquidated":
        return d.get("status") == "rejected"
    if e.kind == "upload-failed":
        return d.get("channel") == "rest"
    return e.kind in STORY


#: the kinds of event the story tells (besides the cases of :func:`in_story`)
STORY = frozenset({
    "lot-sent", "arl-sent", "amo-payment", "oc-answer-sent", "alert-firing", "alert-resolved",
    "fault", "link-blocked", "link-deactivated", "certificate-revoked", "actor-down", "outage",
    "outage-ended", "failover", "lot-resent", "lot-abandoned", "file-refused",
    "file-undeliverable", "ij-discrepancy", "login-refused", "sick-leave", "ij-sent",
    "ij-corrected", "ij-reconciled", "decompte-withheld", "network-faults",
    "network-faults-ended", "payment-mismatch",
})  # fmt: skip


class _Telling:
    """One event being told: its parts as a sentence names them."""

    def __init__(self, narrator: Narrator, e: Event) -> None:
        self.narrator, self.e, self.d = narrator, e, e.details
        self.lang = narrator.lang
        self._ = narrator.lang._
        self.n_ = narrator.lang.n_

    @property
    def who(self) -> str:
        return f"[bold]{self.narrator.name(self.e.actor)}[/]"

    def name(self, key: str) -> str:
        """The organisation a detail names."""
        return self.narrator.name(self.d.get(key))

    def person(self, nir: object) -> str:
        return self.narrator.person(nir)

    @property
    def assure(self) -> str:
        return self.person(self.e.assure or self.d.get("beneficiaire"))

    def money(self, key: str) -> str:
        return self.lang.money(int(self.d.get(key) or 0))

    def moment(self, key: str) -> str:
        """A time a detail gives (ISO 8601), as dd/mm HH:MM."""
        try:
            return f"{datetime.fromisoformat(str(self.d.get(key))):%d/%m %H:%M}"
        except ValueError:
            return str(self.d.get(key))

    def date(self, key: str) -> str:
        """A date a detail gives (ISO 8601), as the language writes it in a sentence."""
        try:
            return self.lang.date(date.fromisoformat(str(self.d.get(key))[:10]))
        except ValueError:
            return str(self.d.get(key))

    def caisse_of_file(self) -> str:
        """The caisse a file identifier (CAISSE/N) names."""
        return self.narrator.name(str(self.e.file or "").split("/")[0])


def _arl_sent(t: _Telling) -> str:
    d = t.d
    ps = t.narrator.name(str(t.e.file or "").split("/")[0])
    if d["status"] == "P":
        return t._("{who} acknowledges the lot of {ps}: [green]positive ARL[/]", who=t.who, ps=ps)
    labels = ", ".join(f"{c} {codes.ARL[c].label}" for c in d["codes"] if c in codes.ARL)
    if d["status"] == "D":
        return t._("{who} answers {ps} with a [red]duplicate ARL[/]: {labels}", who=t.who,
                   ps=ps, labels=labels)  # fmt: skip
    return t._("{who} answers {ps} with a [red]negative ARL[/]: {labels}", who=t.who, ps=ps,
               labels=labels)  # fmt: skip


def _lot_sent(t: _Telling) -> str:
    d = t.d
    count = len(d.get("invoices") or [])
    again = t._(" (corrected)") if d.get("corrects") else ""
    extra = t._(" [red](with a broken record)[/]") if d.get("corrupted") else ""
    return t.n_("{who} sends a lot of {count} FSE{again}, {billed} billed{extra}",
                "{who} sends a lot of {count} FSE{again}, {billed} billed{extra}", count,
                who=t.who, again=again, billed=t.money("billed"), extra=extra)  # fmt: skip


def _file_sent(t: _Telling) -> str:
    d = t.d
    prefix = str(d.get("name", "")).split("-")[0]
    to = t.name("to")
    rest = d.get("channel") == "rest"
    if prefix == "NOE":
        return t._("{who} sends {to} its NOEMIE return (paid and rejected invoices)",
                   who=t.who, to=to)  # fmt: skip
    if prefix == "DEC" and rest:
        return t._("{who} sends {to} the day's décomptes over REST (a signed JSON document)",
                   who=t.who, to=to)  # fmt: skip
    if prefix == "DEC":
        return t._("{who} sends {to} the day's décomptes", who=t.who, to=to)
    if prefix == "IJ":
        return t._("{who} sends {to} a NOEMIE 550 (sick-leave allowances)", who=t.who, to=to)
    return t._("{who} sends {name} to {to}", who=t.who, name=d.get("name"), to=to)


def _oc_answer_sent(t: _Telling) -> str:
    d = t.d
    received = int(d.get("received") or 0)
    rejected = t.n_("{count} rejected", "{count} rejected", int(d.get("rejected") or 0))
    if d.get("status") == "R":
        return t._("{who} refuses the décomptes of {caisse} whole: the file cannot be read",
                   who=t.who, caisse=t.caisse_of_file())  # fmt: skip
    return t.n_("{who} answers {caisse} for {count} décompte: {rejected}, the rest paid",
                "{who} answers {caisse} for {count} décomptes: {rejected}, the rest paid",
                received, who=t.who, caisse=t.caisse_of_file(), rejected=rejected)  # fmt: skip


def _decompte_rejected(t: _Telling) -> str:
    d = t.d
    code = str(d.get("code"))
    label = codes.OC[code].label if code in codes.OC else code
    if t.e.actor == t.e.oc:
        return t._("{who} rejects the décompte of {person}: {code} {label}", who=t.who,
                   person=t.assure, code=code, label=label)  # fmt: skip
    return t._("{who} learns that {oc} rejected the décompte of {person}: {code} {label}",
               who=t.who, oc=t.narrator.name(t.e.oc), person=t.assure, code=code,
               label=label)  # fmt: skip


def _invoice_liquidated(t: _Telling) -> str:
    d = t.d
    if d.get("status") == "rejected":
        code = str(d.get("code"))
        label = codes.AMO[code].label if code in codes.AMO else code
        return t._("{who} rejects invoice {invoice} of {person}: {code} {label}", who=t.who,
                   invoice=t.e.invoice, person=t.assure, code=code, label=label)  # fmt: skip
    if d.get("c2s"):
        return t._("{who} settles invoice {invoice} of {person}: {amo} from the Assurance "
                   "Maladie and {c2s} for the complémentaire santé solidaire", who=t.who,
                   invoice=t.e.invoice, person=t.assure, amo=t.money("amo"),
                   c2s=t.money("c2s"))  # fmt: skip
    return t._("{who} settles invoice {invoice} of {person}: {amo} from the Assurance Maladie",
               who=t.who, invoice=t.e.invoice, person=t.assure,
               amo=t.money("amo"))  # fmt: skip


def _alert(t: _Telling) -> str:
    d = t.d
    where = " ".join(t.narrator.name(v) for v in (d.get("labels") or {}).values())
    where = f" ({where})" if where else ""
    value = t.lang.number(d.get("value") or 0)
    if t.e.kind == "alert-firing":
        return t._("[red]alert {alert}[/]{where} fires: {condition}, now {value}",
                   alert=d.get("alert"), where=where, condition=d.get("condition"),
                   value=value)  # fmt: skip
    return t._("[green]alert {alert}[/]{where} resolved (now {value})", alert=d.get("alert"),
               where=where, value=value)  # fmt: skip


def _fault(t: _Telling) -> str:
    kind, _, target = str(t.d.get("label")).partition(" ")
    return t._("[yellow]fault injected[/]: {kind} on {target}", kind=kind,
               target=t.narrator.name(target.split(" ")[0]))  # fmt: skip


def _upload_failed(t: _Telling) -> str:
    d = t.d
    if d.get("channel") == "rest":
        return t._("{who} cannot reach the webhook of {to} ([yellow]{reason}[/]): tries again "
                   "at {again}", who=t.who, to=t.name("to"), reason=d.get("reason"),
                   again=t.moment("next")[-5:])  # fmt: skip
    return t._("{who} cannot upload {name} ([yellow]{reason}[/]): it will try again", who=t.who,
               name=d.get("name"), reason=d.get("reason"))  # fmt: skip


def _failover(t: _Telling) -> str:
    if t.d.get("to") == "standby":
        return t._("{who} switches to the standby server of {hub}", who=t.who, hub=t.name("hub"))
    return t._("{who} goes back to the primary server of {hub}", who=t.who, hub=t.name("hub"))


def _sick_leave(t: _Telling) -> str:
    return t._("{who} registers a sick leave of {person}, who works at {employer} ({start} to "
               "{end}, in subrogation)", who=t.who, person=t.assure,
               employer=t.name("employer"), start=t.date("start"),
               end=t.date("end"))  # fmt: skip


#: how each kind of event is told
SENTENCES: dict[str, Callable[[_Telling], str]] = {
    # the run and its journal
    "run-started": lambda t: t._("The network starts (seed {seed}); the run ends {end}",
                                 seed=t.d.get("seed"), end=t.moment("end")),
    "run-ended": lambda t: t._("The run ends: its journal is sealed"),
    "checkpoint": lambda t: t._("The journal seals a checkpoint"),
    "crls-published": lambda t: t._("The certification authorities publish their revocation "
                                    "lists (valid until {until})", until=t.moment("valid_until")),
    "external-party": lambda t: t._("{party} is played by a real system", party=t.name("party")),
    "rest-channel": lambda t: t.n_("{count} mutuelle takes its décomptes over REST",
                                   "{count} mutuelles take their décomptes over REST",
                                   len(t.d.get("mutuelles") or [])),
    "decompte-form": lambda t: t.n_("{count} mutuelle takes its décomptes in NOEMIE OC form",
                                    "{count} mutuelles take their décomptes in NOEMIE OC form",
                                    len(t.d.get("mutuelles") or [])),
    "serving": lambda t: t._("{caisse} serves SFTP on port {port}", caisse=t.name("caisse"),
                             port=t.d.get("port")),
    # NOEMIE links
    "links-requested": lambda t: t.n_("{who} asks the caisses for {count} NOEMIE link",
                                      "{who} asks the caisses for {count} NOEMIE links",
                                      int(t.d.get("count") or 0), who=t.who),
    "links-state": lambda t: t._("{who} starts with {live} live NOEMIE links, {blocked} blocked",
                                 who=t.who, live=t.lang.number(t.d.get("live") or 0),
                                 blocked=t.lang.number(t.d.get("blocked") or 0)),
    "link-active": lambda t: t._("{who} activates the NOEMIE link of {person} with {oc}",
                                 who=t.who, person=t.assure, oc=t.narrator.name(t.e.oc)),
    "link-blocked": lambda t: t._("{who} blocks the NOEMIE link of {person}: two mutuelles "
                                  "claim it", who=t.who, person=t.assure),
    "link-deactivated": lambda t: t._("{who} ends the NOEMIE link of {person} with {oc}: the "
                                      "mutuelle does not know this person ({reason})",
                                      who=t.who, person=t.assure, oc=t.narrator.name(t.e.oc),
                                      reason=t.d.get("reason")),
    # billing and lots
    "invoice-billed": lambda t: t._("{who} bills {person} {billed}", who=t.who,
                                    person=t.assure, billed=t.money("billed")),
    "invoice-rebilled": lambda t: t._("{who} bills invoice {invoice} again", who=t.who,
                                      invoice=t.e.invoice),
    "lot-sent": _lot_sent,
    "lot-resent": lambda t: t._("{who} sends lot {lot} again (try {attempt}): {reason}",
                                who=t.who, lot=t.e.lot, attempt=t.d.get("attempt"),
                                reason=t.d.get("reason")),
    "lot-abandoned": lambda t: t._("{who} gives up lot {lot}: {reason}", who=t.who, lot=t.e.lot,
                                   reason=t.d.get("reason")),
    "lot-file-received": lambda t: t.n_("{who} receives a file of {count} lot",
                                        "{who} receives a file of {count} lots",
                                        int(t.d.get("lots") or 0), who=t.who),
    "lot-file-unreadable": lambda t: t._("{who} cannot read a lot file of {sender}: {reason}",
                                         who=t.who, sender=t.name("sender"),
                                         reason=t.d.get("reason")),
    "arl-sent": _arl_sent,
    "arl-received": lambda t: t._("{who} receives the ARL of lot {lot}: status {status}",
                                  who=t.who, lot=t.e.lot or t.e.file, status=t.d.get("status")),
    # liquidation, payments, returns
    "invoice-liquidated": _invoice_liquidated,
    "amo-payment": lambda t: t._("{who} pays {to} {amount} (tiers payant, value date {date})",
                                 who=t.who, to=t.name("to"), amount=t.money("amount"),
                                 date=t.date("value_date")),
    "payment-received": lambda t: t._("{who} receives a payment of {amount} (value date "
                                      "{date})", who=t.who, amount=t.money("amount"),
                                      date=t.date("value_date")),
    "payment-mismatch": lambda t: t._("{who} finds that a payment does not match its invoices "
                                      "({file})", who=t.who, file=t.e.file),
    "noemie-received": lambda t: t._("{who} receives its NOEMIE return from {caisse}",
                                     who=t.who, caisse=t.caisse_of_file()),
    "invoice-reconciled": lambda t: t._("{who} checks invoice {invoice} against the return: "
                                        "{status}", who=t.who, invoice=t.e.invoice,
                                        status=t.d.get("status")),
    # décomptes
    "decompte-sent": lambda t: t._("{who} forwards the décompte of {person} to {oc}", who=t.who,
                                   person=t.assure, oc=t.narrator.name(t.e.oc)),
    "decompte-withheld": lambda t: t._("{who} withholds the décompte of {person}: two "
                                       "mutuelles claim the link", who=t.who, person=t.assure),
    "decompte-file-received": lambda t: t.n_("{who} receives {count} décompte from {caisse}",
                                             "{who} receives {count} décomptes from {caisse}",
                                             int(t.d.get("decomptes") or 0), who=t.who,
                                             caisse=t.caisse_of_file()),
    "decompte-paid": lambda t: t._("{who} pays {amount} on the décompte of {person}", who=t.who,
                                   amount=t.money("amount"), person=t.assure),
    "decompte-rejected": _decompte_rejected,
    "oc-answer-sent": _oc_answer_sent,
    "oc-answer-received": lambda t: t.n_("{who} receives the answer of {oc}: {count} "
                                         "décompte rejected",
                                         "{who} receives the answer of {oc}: {count} "
                                         "décomptes rejected", int(t.d.get("rejected") or 0),
                                         who=t.who, oc=t.narrator.name(t.e.oc)),
    # sick leaves and IJ
    "sick-leave": _sick_leave,
    "ij-sent": lambda t: t._("{who} pays {employer} {net} of IJ for {start} to {end}",
                             who=t.who, employer=t.name("employer"), net=t.money("net"),
                             start=t.date("start"), end=t.date("end")),
    "ij-corrected": lambda t: t._("{who} corrects the IJ of {person}: it takes back {debit}",
                                  who=t.who, person=t.assure, debit=t.money("debit")),
    "ij-file-received": lambda t: t._("{who} receives a NOEMIE 550 from {caisse}", who=t.who,
                                      caisse=t.caisse_of_file()),
    "ij-payment-received": lambda t: t._("{who} receives {amount} of IJ", who=t.who,
                                         amount=t.money("amount")),
    "ij-reconciled": lambda t: t._("{who} finds the IJ right against its payroll", who=t.who),
    "ij-discrepancy": lambda t: t._("{who} finds IJ that differ from its payroll: {reason}",
                                    who=t.who, reason=t.d.get("reason")),
    # files and their transport
    "file-sent": _file_sent,
    "file-received": lambda t: t._("{who} receives {name} from {sender}", who=t.who,
                                   name=t.d.get("name"), sender=t.name("sender")),
    "file-delivered": lambda t: t._("{who} delivers {name} to the webhook of {to}", who=t.who,
                                    name=t.d.get("name"), to=t.name("to")),
    "file-refused": lambda t: t._("{who} [yellow]refuses[/] {name} from {sender}: {code} "
                                  "({reason})", who=t.who, name=t.d.get("name") or "",
                                  sender=t.name("sender"), code=t.d.get("code"),
                                  reason=t.d.get("reason")),
    "file-undeliverable": lambda t: t._("{who} [yellow]cannot deliver[/] {name} to {to}: "
                                        "{code} ({reason})", who=t.who, name=t.d.get("name"),
                                        to=t.name("to"), code=t.d.get("code"),
                                        reason=t.d.get("reason")),
    "file-not-sent": lambda t: t._("{who} cannot send {name}: {code} ({reason})", who=t.who,
                                   name=t.d.get("name"), code=t.d.get("code"),
                                   reason=t.d.get("reason")),
    "file-already-delivered": lambda t: t._("{who} finds {name} already delivered to {to}",
                                            who=t.who, name=t.d.get("name"), to=t.name("to")),
    "file-truncated": lambda t: t._("{name} of {who} is cut short on its way (a fault)",
                                    who=t.who, name=t.d.get("name")),
    "file-fetched": lambda t: t._("{who} fetches {name}", who=t.who, name=t.d.get("name")),
    "file-removed": lambda t: t._("{who} removes {name} from its mailbox", who=t.who,
                                  name=t.d.get("name")),
    "duplicate-received": lambda t: t._("{who} receives {name} again: already processed",
                                        who=t.who, name=t.d.get("name") or t.e.file),
    "upload-failed": _upload_failed,
    "poll-failed": lambda t: t._("{who} cannot reach the hub of {to}: {reason}", who=t.who,
                                 to=t.name("to"), reason=t.d.get("reason")),
    # faults and security
    "fault": _fault,
    "outage": lambda t: t._("[yellow]The hub of {party} stops[/] until {until}",
                            party=t.name("party"), until=t.moment("until")),
    "outage-ended": lambda t: t._("[green]The hub of {party} is back[/]", party=t.name("party")),
    "failover": _failover,
    "actor-down": lambda t: t._("[yellow]{party} is down[/] until {until}",
                                party=t.name("party"), until=t.moment("until")),
    "certificate-revoked": lambda t: t._("[red]The certificate of {party} is revoked[/]",
                                         party=t.name("party")),
    "network-faults": lambda t: t._("[yellow]The network to {party} becomes unreliable[/] until "
                                    "{until}", party=t.name("party"),
                                    until=t.moment("until")),
    "network-faults-ended": lambda t: t._("The network to {party} is reliable again",
                                          party=t.name("party")),
    "login-refused": lambda t: t._("{who} refuses a login of {partner}: {reason}", who=t.who,
                                   partner=t.name("partner"), reason=t.d.get("reason")),
    "confinement": lambda t: t._("{who} refuses {partner} a path outside its mailbox",
                                 who=t.who, partner=t.name("partner")),
    "sessions-closed": lambda t: t._("{who} closes the sessions of {partner}: {reason}",
                                     who=t.who, partner=t.name("partner"),
                                     reason=t.d.get("reason")),
    # alerts
    "alert-firing": _alert,
    "alert-resolved": _alert,
}  # fmt: skip
