"""Follow one invoice through a run: every event and file from the PS's billing to the
mutuelle's payment, with the delay of each hop.

Pure over a journal's events (a finished run's folder is enough). The hops, in time order:
billed by the PS; sent in a lot (again when re-sent); the lot's ARL, sent by the caisse and
received by the PS; liquidated (paid or rejected, with the AMO part and who is paid); the
PS's NOEMIE return reconciled; the AMO payment to the PS (tiers payant) or the value date of
the reimbursement to the assuré; the décompte sent to the mutuelle; the mutuelle's payment or
reject; its answer received by the caisse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from noemie_sim.sim.domain import codes
from noemie_sim.sim.journal import Event, Journal


@dataclass(frozen=True)
class Hop:
    """One step of an invoice's way: when, who, what, the file it travelled in (an archive
    path of the run folder, or the journal's file identifier) and the delay since the hop
    before (None for the first)."""

    at: datetime
    actor: str
    what: str
    file: str | None = None
    since_previous_hours: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


class UnknownInvoice(LookupError):
    """The run billed no invoice of that identifier."""


def trace(journal: Journal, invoice: str) -> list[Hop]:
    """The hops of ``invoice`` ("PS/NUMBER", as the journal names it) in time order.
    UnknownInvoice when no PS billed it."""
    billed = journal.events("invoice-billed", invoice=invoice)
    if not billed:
        raise UnknownInvoice(invoice)
    ps, _, number = invoice.partition("/")
    found: list[tuple[datetime, int, Hop]] = []

    def add(e: Event, what: str, file: str | None = None, **details: Any) -> None:
        found.append((e.at, e.seq, Hop(e.at, e.actor, what, file, None, details)))

    first = billed[0]
    add(first, f"billed by the PS: {_euros(first.details['billed'])}, "
               f"{first.details['lines']} line(s), care on {first.details['care_date']}"
               + (", tiers payant" if first.details["tiers_payant"] else ""))  # fmt: skip
    lots = set()
    for e in journal.events("lot-sent", actor=ps):
        if int(number) in e.details["invoices"]:
            lots.add(str(e.lot))
            again = " (again)" if len(lots) > 1 or e.details.get("corrects") else ""
            add(e, f"sent in lot {e.lot}{again}", e.file)
    for lot in sorted(lots):
        for e in journal.events(lot=lot):
            if e.kind == "arl-sent":
                codes_ = ", ".join(e.details["codes"]) or "no anomaly"
                add(e, f"ARL {e.details['status']} for its lot ({codes_})", e.file)
            elif e.kind == "arl-received":
                add(e, f"ARL {e.details['status']} received by the PS", e.details.get("archive"))
    settled = journal.events(invoice=invoice)
    for e in settled:
        d = e.details
        if e.kind == "invoice-liquidated":
            if d["status"] == "paid":
                payee = "the PS (tiers payant)" if d["payee"] == "ps" else "the assuré"
                c2s = f", C2S {_euros(d['c2s'])}" if d.get("c2s") else ""
                add(e, f"liquidated: AMO {_euros(d['amo'])}{c2s} to {payee}, "
                       f"PF {_euros(d['pf'])}, franchise {_euros(d['franchise'])}",
                    None)  # fmt: skip
                if d.get("paid_on"):
                    value = datetime.combine(date.fromisoformat(d["paid_on"]), time(), e.at.tzinfo)
                    found.append((value, e.seq, Hop(value, e.actor,
                        f"paid {_euros(d['paid'])} to {payee} (value date)")))  # fmt: skip
            else:
                label = codes.AMO[d["code"]].label if d["code"] in codes.AMO else ""
                add(e, f"rejected by the caisse: {d['code']} {label}".rstrip())
        elif e.kind == "invoice-reconciled":
            add(e, f"reconciled by the PS: {d['status']}")
        elif e.kind == "decompte-sent":
            add(e, f"décompte {d['decompte']} sent to mutuelle {e.oc}", e.file)
            _mutuelle(journal, e, add)
        elif e.kind in ("decompte-withheld", "invoice-rebilled"):
            add(e, e.kind.replace("-", " ") + (f": {d['reason']}" if "reason" in d else ""))
    found.sort(key=lambda item: (item[0], item[1]))
    hops: list[Hop] = []
    for at, _seq, hop in found:
        since = round((at - hops[-1].at).total_seconds() / 3600, 2) if hops else None
        hops.append(Hop(hop.at, hop.actor, hop.what, hop.file, since, hop.details))
    return hops


def _mutuelle(journal: Journal, sent: Event, add: Any) -> None:
    """The mutuelle's outcome of the décompte ``sent`` and its answer back at the caisse."""
    decompte = f"{sent.actor}/{sent.details['decompte']}"
    for kind in ("decompte-paid", "decompte-rejected"):
        for e in journal.events(kind, oc=str(sent.oc)):
            if e.actor != e.oc or e.details.get("decompte") != decompte:
                continue
            if kind == "decompte-paid":
                add(e, f"paid by the mutuelle: {_euros(e.details['amount'])} "
                       f"({e.details['grid']})")  # fmt: skip
            else:
                code = str(e.details["code"])
                label = codes.OC[code].label if code in codes.OC else ""
                add(e, f"rejected by the mutuelle: {code} {label}".rstrip())
    for e in journal.events("oc-answer-received", file=str(sent.file)):
        add(e, f"the mutuelle's answer received by the caisse ({e.details['status']})",
            e.details.get("archive"))  # fmt: skip


def _euros(cents: int) -> str:
    return f"{cents / 100:.2f} €"
