"""The narration of a run: its events told in words a newcomer follows (the demo's terminal,
the live page's side panel)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from noemie_sim.actors.network import Network
from noemie_sim.sim.domain import codes
from noemie_sim.sim.journal import Event

from .render import euros


class Narrator:
    """Tells the flows as they happen, in words a newcomer follows: to a terminal (``tell``),
    or as plain lines (``line``, for the live page)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console
        self.names: dict[str, str] = {}
        self.day = ""

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

    def name(self, ident: object) -> str:
        return self.names.get(str(ident), str(ident))

    def line(self, e: Event) -> str | None:
        """The event told in one plain line (no markup), None when it is not told."""
        line = self._line(e)
        return None if line is None else Text.from_markup(line).plain

    def tell(self, e: Event) -> None:
        line = self._line(e)
        if line is None or self.console is None:
            return
        day = e.at.strftime("%A %d %B")
        if day != self.day:
            self.day = day
            self.console.rule(day, style="dim")
        self.console.print(f"[dim]{e.at:%H:%M}[/] {line}")

    def _line(self, e: Event) -> str | None:
        d, who = e.details, f"[bold]{self.name(e.actor)}[/]"
        if e.kind == "lot-sent":
            extra = " [red](with a broken record)[/]" if d.get("corrupted") else ""
            again = " (corrected)" if d.get("corrects") else ""
            return (f"{who} sends a lot of {len(d['invoices'])} FSE{again}, "
                    f"{euros(d['billed'])} billed{extra}")  # fmt: skip
        if e.kind == "arl-sent":
            ps = self.name(str(e.file or "").split("/")[0])
            if d["status"] == "P":
                return f"{who} acknowledges the lot of {ps}: [green]positive ARL[/]"
            labels = ", ".join(f"{c} {codes.ARL[c].label}" for c in d["codes"] if c in codes.ARL)
            word = "duplicate" if d["status"] == "D" else "negative"
            return f"{who} answers {ps} with a [red]{word} ARL[/]: {labels}"
        if e.kind == "amo-payment":
            return (f"{who} pays {self.name(d['to'])} {euros(d['amount'])} "
                    f"(tiers payant, value date {d['value_date']})")  # fmt: skip
        if e.kind == "file-sent" and str(d.get("name", "")).startswith(("NOE", "DEC", "IJ")):
            what = {
                "NOE": "its NOEMIE return (paid and rejected invoices)",
                "DEC": "the day's décomptes",
                "IJ": "a NOEMIE 550 (sick-leave allowances)",
            }
            kind = str(d["name"]).split("-")[0]
            how = " over REST (a signed JSON document)" if d.get("channel") == "rest" else ""
            return f"{who} sends {self.name(d['to'])} {what[kind]}{how}"
        if e.kind == "upload-failed" and d.get("channel") == "rest":
            again = str(d["next"])[11:16]
            return (f"{who} cannot reach the webhook of {self.name(d['to'])} "
                    f"([yellow]{d['reason']}[/]): tries again at {again}")  # fmt: skip
        if e.kind == "oc-answer-sent":
            return (f"{who} acknowledges {d['received']} décomptes, "
                    f"rejects {d['rejected']}, pays the rest")  # fmt: skip
        if e.kind == "decompte-rejected" and e.actor == e.oc:
            return f"{who} rejects a décompte: {d['code']} {codes.OC[d['code']].label}"
        if e.kind == "invoice-liquidated" and d["status"] == "rejected":
            return f"{who} rejects invoice {e.invoice}: {d['code']} {codes.AMO[d['code']].label}"
        if e.kind in ("alert-firing", "alert-resolved"):
            where = " ".join(f"{self.name(v)}" for v in d["labels"].values())
            where = f" ({where})" if where else ""
            if e.kind == "alert-firing":
                return (f"[red]alert {d['alert']}[/]{where} fires: {d['condition']}, "
                        f"now {d['value']:g}")  # fmt: skip
            return f"[green]alert {d['alert']}[/]{where} resolved (now {d['value']:g})"
        if e.kind == "fault":
            kind, _, target = str(d["label"]).partition(" ")
            return f"[yellow]fault injected[/]: {kind} on {self.name(target)}"
        if e.kind in (
            "link-blocked",
            "link-deactivated",
            "certificate-revoked",
            "actor-down",
            "outage",
            "lot-resent",
            "file-refused",
            "ij-discrepancy",
            "login-refused",
        ):
            shown = ", ".join(f"{k} {v}" for k, v in d.items() if k not in ("archive", "reason"))
            about = f" {e.assure}" if e.assure else ""
            return f"{who} [yellow]{e.kind}[/]{about} {shown}"
        if e.kind == "sick-leave":
            employer = self.name(d["employer"])
            return (
                f"{who} registers a sick leave of an employee of {employer} "
                f"({d['start']} to {d['end']}, in subrogation)"
            )
        if e.kind == "ij-sent":
            return (f"{who} pays {self.name(d['employer'])} {euros(d['net'])} of IJ "
                    f"for {d['start']} to {d['end']}")  # fmt: skip
        if e.kind == "ij-reconciled":
            return f"{who} finds the IJ of {euros(d['net'])} right against its payroll"
        return None
