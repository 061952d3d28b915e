"""The practitioner (PS): bills care, sends lots of FSE, follows ARLs and NOEMIE returns.

Every jour ouvré at ``send_at`` the PS bills the day's visits (acts of its specialty, AMO part
before participation forfaitaire and franchises, tiers payant as its habits and its patients'
situation say), groups the FSE into lots, seals the B2 file for its caisse and uploads it. At
each ``poll_at`` it retries uploads that failed, reads its ``retour/``:

* an ARL: a positive lot is accepted; a negative lot with format anomalies is corrected and
  sent again as a new lot; a lot refused for a seal or certificate reason is abandoned (a
  person must renew the certificate); a duplicate lot was accepted before;
* a NOEMIE return: each invoice is reconciled (paid, partially paid, paid to the assuré,
  rejected with its codes) and each payment checked against the invoices it pays;

and re-sends every lot that got no ARL within ``arl_timeout`` jours ouvrés.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from noemie_sim.pki.errors import SealError
from noemie_sim.sim.calendar import add_jours_ouvres
from noemie_sim.sim.domain import population as pop
from noemie_sim.sim.domain.generate import fse_invoice, typical_visit
from noemie_sim.sim.domain.nomenclature import ACTS, HEARING_AID_ADULT, SPECIALTIES
from noemie_sim.sim.domain.rules import Billed, Patient
from noemie_sim.sim.norms import arl, b2, noemie_ps
from noemie_sim.sim.norms.errors import FormatError
from noemie_sim.sim.norms.kinds import KINDS, detect
from noemie_sim.sim.randomness import generator
from noemie_sim.sim.transport.api import AlreadyDelivered, MailboxClient, TransportError

from .base import Actor, Kernel


@dataclass(frozen=True)
class PractitionerBehaviour:
    """How a PS works. Times are simulated local times of a jour ouvré."""

    visits_per_day: tuple[int, int] = (4, 12)
    lot_size: int = 10
    send_at: time = time(18, 0)
    poll_at: tuple[time, ...] = (time(8, 0), time(12, 30), time(19, 0))
    arl_timeout: int = 2  # jours ouvrés (R161-47: the ARL is due within 2)
    max_resends: int = 3
    foreign_patient_share: float = 0.02  # patients of another caisse: the CPAM rejects them
    wrong_act_share: float = 0.005  # an act its specialty may not bill (rule R1): rejected
    tiers_payant_share: float | None = None  # None: the population's habit
    #: jours ouvrés between two sendings of the visits billed meanwhile; None: the habit of
    #: the profession (:data:`SEND_EVERY`)
    send_every: int | None = None


#: How often a profession sends its FSE, in jours ouvrés (convention: a médecin's or a
#: pharmacy's software sends each evening, an infirmière or a kinésithérapeute on the move
#: every other day), within R161-47's 3 jours ouvrés (norms.md §8.1). Visits happen from
#: :data:`FIRST_VISIT` over :data:`VISIT_HOURS`; the FSE delay runs from each visit's time.
SEND_EVERY = {"24": 2, "26": 2}
FIRST_VISIT = time(8, 0)
VISIT_MINUTES = 9 * 60 + 30


@dataclass
class SentLot:
    """A lot as the PS sent it (``invoices`` are the correct ones, whatever was sent)."""

    number: int
    lot_date: date
    invoices: tuple[b2.Invoice, ...]
    file_id: int
    sent_at: datetime
    status: str = "sent"  # sent, accepted, duplicate, refused, abandoned
    resends: int = 0

    def ident(self, ps: str) -> str:
        return lot_ident(ps, self.lot_date, self.number)


#: the share of the children an audioprothésiste's visit draws who are drawn again among its
#: adult patients (a modelling choice: aides auditives are mostly an adult's)
CHILDREN_REDRAWN = 0.8


def lot_ident(ps: str, lot_date: date, number: int) -> str:
    """The journal's identifier of a lot: PS, lot date and lot number."""
    return f"{ps}/{lot_date:%Y%m%d}-{number:03d}"


def invoice_ident(ps: str, number: int) -> str:
    return f"{ps}/{number}"


class Practitioner(Actor):
    role = "ps"

    def __init__(
        self,
        kernel: Kernel,
        who: pop.Practitioner,
        client: MailboxClient,
        behaviour: PractitionerBehaviour = PractitionerBehaviour(),
    ) -> None:
        super().__init__(kernel, who.ps_number)
        self.who = who
        self.cpam = who.caisse
        self.alsace_moselle = pop.alsace_moselle(who.caisse)
        self.client = client
        self.behaviour = behaviour
        population = kernel.population
        self.patients = population.beneficiaries_of(who.caisse)
        self.foreign = population.beneficiaries_not_of(who.caisse)
        self.file_counter = 0
        self.lot_counter = 0
        self.invoice_counter = 0
        #: the files and lots that may still be sent again: those with a lot awaiting its ARL
        #: (a file whose lots are all settled is forgotten, but for each lot's name)
        self.lots: dict[tuple[int, int], SentLot] = {}  # (file id, lot number) -> lot
        self.files: dict[int, tuple[SentLot, ...]] = {}
        self.lot_names: dict[tuple[int, int], str] = {}  # lots forgotten, for late ARLs
        self.outbox: dict[str, bytes] = {}  # name -> clear content, uploads to retry
        #: what the caisse should pay for each invoice billed: its AMO part, and the part
        #: complémentaire of a C2S patient (billed to the caisse as its AMC amount); the NOEMIE
        #: return is checked against it (the invoice is not kept once its file is settled)
        self.expected_paid: dict[int, int] = {}
        self.received: set[tuple[str, str, int]] = set()  # (kind, sender, file id)
        self.last_accepted: SentLot | None = None
        self.corrections: list[SentLot] = []  # refused lots to send again, corrected
        # faults a scenario or a test arms: they act on the next file sent
        self.corrupt_next = 0
        self.duplicate_next = 0
        self.rebill_next = 0  # bill an invoice already paid again, under its number
        self.truncate_next = 0  # the next sealed file loses its second half in transit
        self.corrupted_names: set[str] = set()  # files broken on purpose by a corrupt-lot fault
        #: visits billed and not sent yet (a PS sending every other day), and their times,
        #: drawn from a generator of their own so that the visits drawn stay as they were
        self.unsent: list[b2.Invoice] = []
        self.days_billed = 0
        self.visit_times = generator(kernel.seed, f"{self.id}/visit-times")
        every = behaviour.send_every
        self.send_every = SEND_EVERY.get(who.specialty, 1) if every is None else every

    def start(self) -> None:
        self.every_jour_ouvre(self.behaviour.send_at, self.bill_day, f"{self.id} bills")
        for at in self.behaviour.poll_at:
            self.every_jour_ouvre(at, self.poll, f"{self.id} polls")

    # -- billing ------------------------------------------------------------------------------

    def _visit(self, day: date) -> tuple[pop.Insured, pop.Beneficiary, b2.Invoice]:
        rng = self.rng
        foreign = self.foreign and rng.random() < self.behaviour.foreign_patient_share
        pool = self.foreign if foreign or not self.patients else self.patients
        insured, who = rng.choice(pool)
        who_bills = self.who
        if (
            who_bills.specialty == "60"
            and Patient(who.birth_date).age_on(day) < HEARING_AID_ADULT
            and rng.random() < CHILDREN_REDRAWN
        ):
            # most patients of an audioprothésiste are adults: a child drawn is most often
            # drawn again among the adults (a modelling choice)
            adults = [(i, b) for i, b in pool
                      if Patient(b.birth_date).age_on(day) >= HEARING_AID_ADULT]  # fmt: skip
            insured, who = rng.choice(adults) if adults else (insured, who)
        acts = typical_visit(who_bills.specialty, rng, day, who_bills.sector, who_bills.optam,
                             who.c2s, Patient(who.birth_date).age_on(day))  # fmt: skip
        if rng.random() < self.behaviour.wrong_act_share:
            acts = (
                [Billed("AMK", ACTS["AMK"].base(None, 1, day))]
                if self.who.specialty != "26"
                else [Billed("G", ACTS["G"].base(None, 1, day))]
            )
        tiers_payant = who.ald or who.c2s or rng.random() < self._tiers_payant_share
        self.invoice_counter += 1
        invoice = fse_invoice(
            self.kernel.population, self.who, insured, who, day, self.invoice_counter, acts,
            tiers_payant,
        )  # fmt: skip
        return insured, who, invoice

    @property
    def _tiers_payant_share(self) -> float:
        share = self.behaviour.tiers_payant_share
        return self.who.tiers_payant_share if share is None else share

    def sample_file(self, file_id: int, visits: int = 3) -> bytes:
        """A valid B2 file of one lot of ``visits`` FSE this PS could send today to its caisse
        (for an external PS's connection kit; nothing is journaled)."""
        day = self.now().date()
        invoices = tuple(self._visit(day)[2] for _ in range(visits))
        lot = b2.Lot(1, self.id, self.cpam, day, invoices)
        return b2.build(
            b2.B2File("FSE", "PS", self.id, "CP", self.cpam, file_id, self.now(), (lot,))
        )

    async def bill_day(self) -> None:
        """Bill today's visits (each at its time of the day) and, on a sending day, send every
        visit not sent yet as one B2 file of lots; once care is over, what is left."""
        if not self.kernel.care_goes_on():
            if self.unsent:
                await self._send_unsent()
            return
        day = self.now().date()
        low, high = self.behaviour.visits_per_day
        count = self.rng.randint(low, high)
        first = self.now().replace(hour=FIRST_VISIT.hour, minute=FIRST_VISIT.minute, second=0)
        times = sorted(self.visit_times.randrange(VISIT_MINUTES) for _ in range(count))
        for minutes in times:
            insured, _who, invoice = self._visit(day)
            self.expected_paid[invoice.invoice_number] = invoice.totals.amo + invoice.totals.amc
            totals = invoice.totals
            self.log(
                "invoice-billed",
                invoice=invoice_ident(self.id, invoice.invoice_number),
                assure=insured.nir,
                oc=invoice.oc_number,
                billed=totals.billed,
                amo=totals.amo,
                lines=len(invoice.lines),
                # what the report sums by kind of care: the specialty's kind, the dépassements
                care=SPECIALTIES[self.who.specialty].kind,
                depassement=sum(
                    max(0, x.fee_amount - x.base)
                    for x in invoice.lines
                    if isinstance(x, b2.ProfessionalAct)
                ),
                tiers_payant=invoice.tiers_payant == "O",
                care_date=day.isoformat(),
                care_at=(first + timedelta(minutes=minutes)).isoformat(),
            )
            self.unsent.append(invoice)
        self.days_billed += 1
        if self.days_billed % self.send_every == 0:
            await self._send_unsent()

    async def _send_unsent(self) -> None:
        """Send the visits billed and not sent yet, in lots of the behaviour's size (with what
        the faults armed add: a paid invoice billed again, a lot sent twice)."""
        invoices, self.unsent = self.unsent, []
        if self.rebill_next and self.last_accepted is not None:
            self.rebill_next -= 1
            invoices.append(self.last_accepted.invoices[0])
            self.log(
                "invoice-rebilled", invoice=invoice_ident(self.id, invoices[-1].invoice_number)
            )
        size = self.behaviour.lot_size
        groups = [tuple(invoices[i : i + size]) for i in range(0, len(invoices), size)]
        if self.duplicate_next and self.last_accepted is not None:
            self.duplicate_next -= 1
            groups.append(self.last_accepted.invoices)
            await self._send(groups, duplicate_of=self.last_accepted)
        else:
            await self._send(groups)

    async def _send(
        self,
        groups: list[tuple[b2.Invoice, ...]],
        *,
        corrects: list[SentLot] | None = None,
        duplicate_of: SentLot | None = None,
    ) -> None:
        """Number, build, seal and upload one file holding a lot per group. The last group is
        sent under ``duplicate_of``'s number and date when given (a PS sending a lot twice)."""
        if not groups:
            return
        now = self.now()
        self.file_counter += 1
        file_id = self.file_counter
        lots: list[SentLot] = []
        for n, invoices in enumerate(groups):
            if duplicate_of is not None and n == len(groups) - 1:
                number, lot_date = duplicate_of.number, duplicate_of.lot_date
            else:
                self.lot_counter = self.lot_counter % 999 + 1
                number, lot_date = self.lot_counter, now.date()
            lots.append(SentLot(number, lot_date, invoices, file_id, now))
        sent = [dataclasses.replace(x) for x in lots]
        if self.corrupt_next:
            self.corrupt_next -= 1
            sent[0] = dataclasses.replace(sent[0], invoices=_broken(sent[0].invoices))
        content = self._content(file_id, now, sent)
        for x in lots:
            self.lots[(file_id, x.number)] = x
        self.files[file_id] = tuple(lots)
        for n, x in enumerate(lots):
            self.log(
                "lot-sent",
                file=f"{self.id}/{file_id}",
                lot=x.ident(self.id),
                invoices=[i.invoice_number for i in x.invoices],
                billed=sum(i.totals.billed for i in x.invoices),
                corrupted=sent[n] != x,
                duplicate=duplicate_of is not None and n == len(lots) - 1,
                corrects=corrects[n].ident(self.id) if corrects else None,
            )
        name = _file_name(self.id, file_id)
        if sent != lots:
            self.corrupted_names.add(name)
        await self._upload(name, content)

    def _content(self, file_id: int, created: datetime, lots: Sequence[SentLot]) -> bytes:
        """The B2 file ``file_id`` holding ``lots`` (its bytes as sent)."""
        return b2.build(
            b2.B2File(
                "FSE", "PS", self.id, "CP", self.cpam, file_id, created,
                tuple(b2.Lot(x.number, self.id, self.cpam, x.lot_date, x.invoices) for x in lots),
            )
        )  # fmt: skip

    async def _upload(self, name: str, content: bytes) -> None:
        try:
            sealed = self.seal_for(self.cpam, content)
        except SealError as exc:
            self.log("file-not-sent", name=name, code=exc.code, reason=exc.detail)
            return
        stem = self.archive(name, sealed, content)
        # a file broken on purpose says so: the self-consistency check knows it from the journal
        fault = {"fault": "corrupt-lot"} if name in self.corrupted_names else {}
        self.log(
            "file-sent",
            name=name,
            to=self.cpam,
            archive=stem,
            evidence={"sha256": hashlib.sha256(content).hexdigest()},
            **fault,
        )
        if self.truncate_next:
            self.truncate_next -= 1
            sealed = sealed[: len(sealed) // 2]
            self.log("file-truncated", name=name, evidence={"size": len(sealed)})
        try:
            await self.client.send(name, sealed)
        except AlreadyDelivered:
            self.log("file-already-delivered", name=name)
        except TransportError as exc:
            self.outbox[name] = content
            self.log("upload-failed", name=name, reason=str(exc), retry=exc.retryable)
        else:
            self.outbox.pop(name, None)

    # -- reading retour/ ----------------------------------------------------------------------

    async def poll(self) -> None:
        """Retry failed uploads, process what the caisse sent, re-send lots without ARL."""
        for name, content in sorted(self.outbox.items()):
            await self._upload(name, content)
        try:
            names = await self.client.list_incoming()
            for name in names:
                data = await self.client.receive(name)
                self._receive(name, data)
                await self.client.delete(name)
        except TransportError as exc:
            self.log("poll-failed", reason=str(exc))
        await self._resend_overdue()

    def _receive(self, name: str, data: bytes) -> None:
        self.log("file-received", sender=self.cpam, name=name, evidence={"size": len(data)})
        try:
            opened = self.open(data)
            kind = detect(opened.content).name
        except SealError as exc:
            self.archive(name, data, None)
            self.log("file-refused", name=name, code=exc.code, reason=exc.public_message)
            return
        except FormatError as exc:
            self.archive(name, data, opened.content)
            self.log("file-refused", name=name, code="format", reason=str(exc))
            return
        stem = self.archive(name, data, opened.content)
        try:
            # the network's law: a file is processed only if `validate` accepts it
            if kind == "arl":
                anomalies = KINDS[kind].validate(opened.content)
                if anomalies:
                    raise FormatError(anomalies[0])
                self._on_arl(name, arl.parse(opened.content), stem)
            elif kind == "noemie-ps":
                anomalies, ps_return = noemie_ps.read(opened.content)  # one decoding
                if ps_return is None:
                    raise FormatError(anomalies[0])
                self._on_return(name, ps_return, stem)
            else:
                self.log("file-refused", name=name, code="unexpected", reason=f"a {kind} file")
        except FormatError as exc:
            self.log("file-refused", name=name, code="format", reason=str(exc))

    def _first_time(self, kind: str, sender: str, file_id: int, name: str) -> bool:
        key = (kind, sender, file_id)
        if key in self.received:
            self.log("duplicate-received", name=name, file=f"{sender}/{file_id}", what=kind)
            return False
        self.received.add(key)
        return True

    def _on_arl(self, name: str, ack: arl.Arl, stem: str) -> None:
        if not self._first_time("arl", ack.sender, _arl_key(ack), name):
            return
        ours = self.files.get(ack.file_id, ())
        file_codes = [a.code for a in ack.anomalies]
        acks = {x.lot_number: x for x in ack.lots}
        if not acks and ack.status == "N":
            # the whole file was refused before its lots could be read
            acks = {x.number: arl.LotAck(x.number, "N", len(x.invoices), 0) for x in ours}
        to_correct: list[SentLot] = []
        for number, lot_ack in sorted(acks.items()):
            lot = self.lots.get((ack.file_id, number))
            codes = file_codes + [a.code for a in lot_ack.anomalies]
            self.log(
                "arl-received",
                file=f"{self.id}/{ack.file_id}",
                lot=lot.ident(self.id) if lot else self.lot_names.get((ack.file_id, number)),
                status=lot_ack.status,
                codes=codes,
                archive=stem,
            )
            if lot is None or lot.status != "sent":
                continue
            if lot_ack.status == "P":
                lot.status = "accepted"
                self.last_accepted = lot
            elif lot_ack.status == "D":
                lot.status = "duplicate"
            elif all(code.startswith("0001") for code in codes):
                lot.status = "refused"
                to_correct.append(lot)
            else:
                lot.status = "abandoned"
                self.log(
                    "lot-abandoned",
                    lot=lot.ident(self.id),
                    codes=codes,
                    reason="refused for a seal or certificate reason",
                )
        self.corrections.extend(to_correct)
        self._forget_if_settled(ack.file_id)

    def _forget_if_settled(self, file_id: int) -> None:
        """Forget a file none of whose lots awaits an ARL any more (accepted, duplicate,
        refused and queued for correction, or abandoned): it will not be sent again. Only the
        names of its lots are kept, for an ARL arriving late. Keeps a PS's memory bounded by
        what is in flight, not by what it ever billed."""
        lots = self.files.get(file_id, ())
        if any(x.status == "sent" for x in lots):
            return
        for x in lots:
            self.lots.pop((file_id, x.number), None)
            self.lot_names[(file_id, x.number)] = x.ident(self.id)
        self.files.pop(file_id, None)

    def _on_return(self, name: str, ret: noemie_ps.PsReturn, stem: str) -> None:
        if not self._first_time("noemie", ret.sender, ret.file_id, name):
            return
        self.log("noemie-received", file=f"{ret.sender}/{ret.file_id}", archive=stem)
        for payee in ret.payees:
            for day in payee.days:
                paid_to_ps = 0
                for lot in day.lots:
                    for inv in lot.invoices:
                        paid_to_ps += self._reconcile(inv)
                for payment in day.payments:
                    self.log(
                        "payment-received",
                        file=f"{ret.sender}/{ret.file_id}",
                        reference=payment.reference,
                        amount=payment.amount,
                        value_date=payment.value_date.isoformat(),
                    )
                paid = sum(p.amount if p.direction == "C" else -p.amount for p in day.payments)
                if paid != paid_to_ps:
                    self.log(
                        "payment-mismatch",
                        file=f"{ret.sender}/{ret.file_id}",
                        paid=paid,
                        invoices=paid_to_ps,
                    )

    def _reconcile(self, inv: noemie_ps.ReturnInvoice) -> int:
        """Journal what became of one invoice; the amount the caisse pays the PS for it."""
        expected = self.expected_paid.get(inv.invoice_number)
        amo = inv.amo_paid
        deductions = sum(a.deductions for a in inv.acts)
        codes = [n.code for n in inv.notices]
        if expected is None:
            status = "unknown-invoice"
        elif inv.status == "R":
            status = "rejected"
        elif inv.tiers_payant != "O":
            status = "paid-to-assure"
        elif inv.paid == expected:
            status = "paid"
        else:
            status = "partially-paid"
        self.log(
            "invoice-reconciled",
            invoice=invoice_ident(self.id, inv.invoice_number),
            status=status,
            amo=amo,
            c2s=inv.c2s_amount or 0,
            expected=expected,
            deductions=deductions,
            codes=codes,
        )
        return inv.paid if status in ("paid", "partially-paid") else 0

    async def _resend_overdue(self) -> None:
        now = self.now()
        corrections, self.corrections = self.corrections, []
        if corrections:
            await self._send([x.invoices for x in corrections], corrects=corrections)
        overdue: dict[int, list[SentLot]] = {}
        for lot in self.lots.values():
            if (
                lot.status == "sent"
                and add_jours_ouvres(lot.sent_at, self.behaviour.arl_timeout, self.alsace_moselle)
                <= now
            ):
                overdue.setdefault(lot.file_id, []).append(lot)
        for file_id, lots in sorted(overdue.items()):
            if any(x.resends >= self.behaviour.max_resends for x in lots):
                for x in lots:
                    x.status = "abandoned"
                    self.log("lot-abandoned", lot=x.ident(self.id), reason="no ARL after resends")
                self._forget_if_settled(file_id)
                continue
            for x in lots:
                x.resends += 1
                x.sent_at = now
                self.log(
                    "lot-resent",
                    lot=x.ident(self.id),
                    file=f"{self.id}/{file_id}",
                    reason="no ARL",
                    attempt=x.resends,
                )
            everything = self.files[file_id]
            content = self._content(file_id, everything[0].sent_at, everything)
            await self._upload(_file_name(self.id, file_id), content)


def _arl_key(ack: arl.Arl) -> int:
    """ARLs are told apart by the file they answer and the instant they were made (a file
    sent twice gets two ARLs)."""
    return ack.file_id * 10**12 + int(ack.received_at.timestamp())


def _file_name(ps: str, file_id: int) -> str:
    return f"FSE-{ps}-{file_id:06d}.p7m"


def _broken(invoices: tuple[b2.Invoice, ...]) -> tuple[b2.Invoice, ...]:
    """The same invoices with a wrong NIR key in the first: a broken record, as a buggy
    billing software would send it."""
    first = invoices[0]
    wrong = dataclasses.replace(first, insured_nir_key=(first.insured_nir_key % 97) + 1)
    return (wrong, *invoices[1:])
