"""The employer: fetches NOEMIE 550 files and reconciles the IJ of its employees on leave
(maladie, AT/MP, maternité) in subrogation against its own payroll.

At ``poll_at`` on jours ouvrés it reads its ``retour/``; each 550 file is opened and each IJ
period compared with what the payroll says it should be (the rules of the leave's kind, from
the nature d'assurance, and the salary the employer paid): a match is journaled as
reconciled, a difference as a discrepancy with both amounts. The day's movements are checked:
the credits pay the periods listed, and a debit takes back exactly what had been received for
the leaves paid again from their start (a corrected salary).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from noemie_sim.pki.errors import SealError
from noemie_sim.sim.domain import population as pop
from noemie_sim.sim.domain.rules import LEAVE_NATURES, ij_for_period
from noemie_sim.sim.norms import noemie_550
from noemie_sim.sim.norms.errors import FormatError
from noemie_sim.sim.norms.kinds import detect
from noemie_sim.sim.transport.api import MailboxClient, TransportError

from .base import Actor, Kernel


@dataclass(frozen=True)
class EmployerBehaviour:
    poll_at: tuple[time, ...] = (time(10, 0),)


class Employer(Actor):
    role = "employer"

    def __init__(
        self,
        kernel: Kernel,
        who: pop.Employer,
        client: MailboxClient,
        behaviour: EmployerBehaviour = EmployerBehaviour(),
    ) -> None:
        super().__init__(kernel, who.siret)
        self.who = who
        self.client = client
        self.behaviour = behaviour
        self.payroll = {e.nir: e for e in who.employees}
        self.files_seen: set[tuple[str, int]] = set()
        #: per leave: the net IJ received and standing, and the last day they pay
        self.received: dict[str, tuple[int, date]] = {}

    def start(self) -> None:
        for at in self.behaviour.poll_at:
            self.every_jour_ouvre(at, self.poll, f"{self.id} polls")

    async def poll(self) -> None:
        try:
            for name in await self.client.list_incoming():
                data = await self.client.receive(name)
                self._receive(name, data)
                await self.client.delete(name)
        except TransportError as exc:
            self.log("poll-failed", reason=str(exc))

    def _receive(self, name: str, data: bytes) -> None:
        self.log("file-received", sender=self.who.caisse, name=name, evidence={"size": len(data)})
        try:
            opened = self.open(data)
        except SealError as exc:
            self.archive(name, data, None)
            self.log("file-refused", name=name, code=exc.code, reason=exc.detail)
            return
        stem = self.archive(name, data, opened.content)
        try:
            kind = detect(opened.content).name
            if kind != "noemie-550":
                self.log("file-refused", name=name, code="unexpected", reason=f"a {kind} file")
                return
            anomalies, read = noemie_550.read(opened.content)  # one decoding
            if read is None:
                raise FormatError(anomalies[0])
            doc = read
        except FormatError as exc:
            self.log("file-refused", name=name, code="format", reason=str(exc))
            return
        if (doc.sender, doc.file_id) in self.files_seen:
            self.log("duplicate-received", name=name, file=f"{doc.sender}/{doc.file_id}")
            return
        self.files_seen.add((doc.sender, doc.file_id))
        file_ident = f"{doc.sender}/{doc.file_id}"
        self.log("ij-file-received", file=file_ident, archive=stem)
        for employer in doc.employers:
            for day in employer.days:
                total = taken_back = 0
                for employee in day.employees:
                    received, repaid = self._reconcile(file_ident, employee)
                    total += received
                    taken_back += repaid
                credit = sum(m.amount for m in day.movements if m.direction == "C")
                debit = sum(m.amount for m in day.movements if m.direction == "D")
                self.log(
                    "ij-payment-received",
                    file=file_ident,
                    amount=credit - debit,
                    periods=total,
                    debit=debit,
                    matches=credit == total and debit == taken_back,
                )

    def _reconcile(self, file_ident: str, employee: noemie_550.Employee) -> tuple[int, int]:
        """Compare each IJ period of ``employee`` with the payroll: (the net amounts received,
        the net previously received for the leaves these periods pay again)."""
        staff = self.payroll.get(employee.insured_nir)
        received = repaid = 0
        for coverage in employee.coverages:
            kind = _KIND_OF_NATURE.get(coverage.insurance_nature, "maladie")
            for leave in coverage.leaves:
                standing, last = self.received.get(leave.stop_number, (0, None))
                if leave.periods and last is not None and leave.periods[0].period_start <= last:
                    repaid += standing  # paid again from an earlier day: taken back first
                    standing = 0
                for period in leave.periods:
                    received += period.net_amount
                    standing += period.net_amount
                    last = period.period_end if last is None else max(last, period.period_end)
                    expected = (
                        ij_for_period(
                            leave.stop_start,
                            period.period_start,
                            period.period_end,
                            staff.monthly_gross * 3,
                            kind=kind,
                        )
                        if staff
                        else None
                    )
                    details = {
                        "file": file_ident,
                        "assure": employee.insured_nir,
                        "leave": leave.stop_number,
                        "net": period.net_amount,
                        "expected": expected.net if expected else None,
                    }
                    if staff is None:
                        self.log("ij-discrepancy", reason="not an employee", **details)
                    elif expected is None or expected.net != period.net_amount:
                        self.log("ij-discrepancy", reason="amount differs from payroll", **details)
                    else:
                        self.log("ij-reconciled", **details)
                if last is not None:
                    self.received[leave.stop_number] = (standing, last)
        return received, repaid


#: the kind of leave whose rules pay a nature d'assurance: paternity is paid under 30 as
#: maternity is, by the same rules
_KIND_OF_NATURE = {nature: kind for kind, nature in LEAVE_NATURES.items() if kind != "paternite"}
