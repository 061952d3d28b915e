"""The caisse (CPAM): receives lots and OC answers, acknowledges, liquidates, pays, returns
NOEMIE files to PS, forwards décomptes to mutuelles and IJ returns to employers.

Every ``poll_every`` between ``open_at`` and ``close_at`` on jours ouvrés it reads every
partner's ``depot/`` on its own hub, in partner then name order. Each file is opened (seal,
certificate at simulated time, signer = declared sender = mailbox owner), then:

* a B2 lot file from a PS is validated; the ARL says, per lot, P (accepted), N (refused, with
  codes and where) or D (a lot already accepted: answered without reprocessing). A file that
  cannot be opened or read is answered with a negative ARL naming why; a file whose ARL cannot
  be sealed for its sender (a revoked certificate) is journaled as such.
* an OC answer: its rejects are journaled; a "bénéficiaire inconnu" reject deactivates the
  link of that mutuelle for the assuré.

Every file read is consumed from ``depot/`` only after its outcome is journaled and committed:
a crash between the two re-reads it, and the dedupe on lots answers it as a duplicate.

At ``batch_at`` on jours ouvrés it liquidates the accepted lots (each invoice paid or
rejected with its AMO code), sends each PS its NOEMIE return and payment, puts the décompte of
each paid invoice whose assuré has a live, unblocked NOEMIE link in that mutuelle's daily
file, and sends employers the IJ of their employees on sick leave in subrogation.

A mutuelle on the REST channel gets its daily file instead as a signed JSON document POSTed to
its webhook (:meth:`Cpam._push`), retried with backoff on the simulated clock while the
webhook is unavailable; its answer comes in the reply or later (``accept_answer``) and is
treated as one fetched from the hub.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from noemie_sim.pki.cms import MAX_SEALED_BYTES
from noemie_sim.pki.errors import SealError
from noemie_sim.sim.calendar import add_jours_ouvres
from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain import population as pop
from noemie_sim.sim.domain.generate import b2_act, ij_employee, leave_kind, patient_of
from noemie_sim.sim.domain.links import LinkRegister
from noemie_sim.sim.domain.nomenclature import (
    ACTS,
    biology_agrees,
    ccam_agrees,
    for_age,
    may_bill,
    nabm_code,
    within_price_limit,
)
from noemie_sim.sim.domain.rules import (
    PATERNITY_DAYS,
    Billed,
    Counters,
    IjPeriod,
    Liquidated,
    Patient,
    ij_periods,
    liquidate,
)
from noemie_sim.sim.domain.text import ascii_upper
from noemie_sim.sim.norms import arl, b2, noemie_550, noemie_oc, noemie_ps, oc_answer
from noemie_sim.sim.norms.errors import Anomaly, FormatError
from noemie_sim.sim.norms.kinds import detect
from noemie_sim.sim.transport import names
from noemie_sim.sim.transport.api import AlreadyDelivered, Changed, HubSide
from noemie_sim.sim.transport.rest import Reply, Webhook, WebhookError

from . import rest
from .base import Actor, Kernel
from .practitioner import invoice_ident, lot_ident

#: the REST channel: the first wait before trying a webhook again, doubled at each try up to
#: REST_RETRY_MAX; a document is given up REST_GIVE_UP (simulated) after its first try
REST_RETRY_FIRST = timedelta(minutes=1)
REST_RETRY_MAX = timedelta(hours=1)
REST_GIVE_UP = timedelta(days=3)


@dataclass(frozen=True)
class CpamBehaviour:
    poll_every: timedelta = timedelta(hours=1)
    open_at: time = time(7, 0)
    close_at: time = time(21, 0)
    batch_at: time = time(20, 30)
    link_delay: int = 4  # jours ouvrés from a link request to the link (seeds/002: 4-5 days)
    sick_leave_rate: float = 0.02  # per employee and jour ouvré
    salary_error_share: float = 0.1  # attestations de salaire that differ from the payroll
    at_mp_share: float = 0.1  # leaves that are accidents du travail / maladies pro.
    maternity_share: float = 0.05  # a woman's leaves that are maternity leaves
    paternity_share: float = 0.05  # a man's leaves that are paternity leaves


@dataclass
class Settlement:
    """One invoice as the caisse settled it."""

    ps: str
    lot: b2.Lot
    invoice: b2.Invoice
    code: str | None  # the AMO reject code, None when paid
    acts: tuple[Liquidated, ...] = ()
    insured: pop.Insured | None = None

    @property
    def amo(self) -> int:
        """The AMO part after the participation forfaitaire and the franchises."""
        return sum(a.amo for a in self.acts)

    @property
    def deductible(self) -> int:
        """The participation forfaitaire and franchises of the invoice."""
        return sum(a.pf + a.franchise for a in self.acts)

    @property
    def tiers_payant(self) -> bool:
        return self.invoice.tiers_payant == "O"

    @property
    def amo_due(self) -> int:
        """What the caisse owes for the invoice: under tiers payant the whole AMO part, paid
        to the PS (the PF and franchises go to the assuré's account, recovered from later
        reimbursements: CSS L160-13, norms.md §8.1); otherwise the AMO part net of them,
        paid to the assuré."""
        return sum(self.amo_of(a) for a in self.acts)

    def amo_of(self, act: Liquidated) -> int:
        """What the caisse pays for one act of the invoice (see :attr:`amo_due`)."""
        return act.amo_gross if self.tiers_payant else act.amo

    @property
    def c2s(self) -> int:
        """The part complémentaire the caisse pays besides, as gestionnaire of the patient's
        C2S (0 for anyone else), to the same payee as the AMO part."""
        return sum(a.c2s for a in self.acts)


@dataclass
class Leave:
    """A leave in subrogation: the employer keeps paying the salary and receives the IJ.

    ``kind`` is maladie, at-mp, maternite or paternite (:data:`rules.LEAVE_NATURES`). The IJ
    are computed from the salary attested when the leave began; when that attestation was wrong, the
    corrected one reaches the caisse before the next payment (the employer's rectified DSN is
    not a modelled flow: a convention), and that payment takes back what was paid (a debit)
    and pays every day again on the right salary."""

    number: str
    employer: pop.Employer
    employee: pop.Employee
    start: date
    end: date
    attested_monthly_gross: int
    kind: str = "maladie"
    paid_until: date | None = None  # the last day paid so far
    paid: list[IjPeriod] = field(default_factory=list)  # what stands paid, net of debits

    @property
    def attested_wrong(self) -> bool:
        return self.attested_monthly_gross != self.employee.monthly_gross

    def due(self, today: date) -> tuple[list[IjPeriod], int] | None:
        """The IJ to pay ``today`` and the net amount to take back first (0 unless a wrong
        salary is corrected): the days not paid yet, once the leave has ended or a week has
        passed since the last payment (None otherwise, or when no day is payable yet: the
        waiting days of a sick leave). Marks them paid."""
        last = self.paid_until or self.start - timedelta(days=1)
        until = min(self.end, today - timedelta(days=1))
        if until <= last or (until < self.end and (until - last).days < 7):
            return None
        debit = 0
        first = last + timedelta(days=1)
        if self.paid and self.attested_wrong:
            # the corrected salary: take back what was paid, pay every day again
            debit = sum(p.net for p in self.paid)
            self.attested_monthly_gross = self.employee.monthly_gross
            self.paid = []
            first = self.start
        periods = ij_periods(
            self.start, first, until, self.attested_monthly_gross * 3, kind=self.kind
        )
        self.paid_until = until
        self.paid.extend(periods)
        return (periods, debit) if periods or debit else None


@dataclass
class _Outgoing:
    counter: int = 0
    names: dict[str, int] = field(default_factory=dict)


class Cpam(Actor):
    role = "cpam"

    def __init__(
        self,
        kernel: Kernel,
        caisse: pop.Caisse,
        hub: HubSide,
        behaviour: CpamBehaviour = CpamBehaviour(),
    ) -> None:
        super().__init__(kernel, caisse.organisme)
        self.caisse = caisse
        self.alsace_moselle = caisse.alsace_moselle
        self.hub = hub
        self.behaviour = behaviour
        population = kernel.population
        self.insured = {i.nir: i for i in population.insured if i.caisse == caisse.organisme}
        self.specialties = {p.ps_number: p for p in population.practitioners}
        self.employers = [e for e in population.employers if e.caisse == caisse.organisme]
        self.counters: dict[str, Counters] = {}
        #: per assuré, the participation forfaitaire and franchises of tiers payant invoices
        #: not yet recovered from a reimbursement to them (cents)
        self.deferred: dict[str, int] = {}
        self.lots_seen: set[tuple[str, date, int]] = set()
        self.paid_invoices: set[tuple[str, int]] = set()
        self.pending: list[tuple[str, b2.Lot, int]] = []  # (PS, lot, file id) to liquidate
        self.links = LinkRegister()
        self.announced_links = 0
        #: décompte n° -> (invoice, assuré, bénéficiaire, OC)
        self.decomptes: dict[int, tuple[str, str, str, str]] = {}
        self.decompte_counter = 0
        self.out_counter = 0
        self.answers_seen: set[tuple[str, int, str]] = set()
        #: the mutuelles that take their décomptes over REST: their webhooks
        self.webhooks: dict[str, Webhook] = {}
        #: the mutuelles that take their décomptes in NOEMIE OC form (the others in B2 form)
        self.noemie_oc: set[str] = set()
        self.rest_in_counter = 0
        self.leaves: list[Leave] = []

    def start(self) -> None:
        b = self.behaviour
        moment = self.now().replace(hour=b.open_at.hour, minute=b.open_at.minute)
        while moment.time() <= b.close_at:
            self.every_jour_ouvre(moment.time(), self.poll, f"{self.id} polls")
            moment += b.poll_every
        self.every_jour_ouvre(b.batch_at, self.batch, f"{self.id} batch")

    # -- links ---------------------------------------------------------------------------------

    def request_link(self, oc: str, contract: pop.Contract, requested: date) -> int:
        """A mutuelle asks for the NOEMIE links of a contract, one per bénéficiaire it covers
        (link requests are not files in this version: the inter-régimes exchange is not
        public; convention). How many links were requested."""
        effective = add_jours_ouvres(
            _midday(requested), self.behaviour.link_delay, self.alsace_moselle
        ).date()
        for nir in contract.beneficiaries:
            self.links.request(
                oc, contract.insured_nir, nir, contract.start, contract.end, requested, effective
            )
        return len(contract.beneficiaries)

    def announce_link_state(self) -> None:
        """Journal the links as they stand at the start of the run: how many are live, and
        each bénéficiaire whose link is blocked by two mutuelles."""
        today = self.now().date()
        live = blocked = 0
        for nir in sorted(self.links.people()):
            status = self.links.status(nir, today, today)
            if status.blocked:
                blocked += 1
                insured = self.links.links_of(nir)[0].insured_nir
                self.log("link-blocked", assure=insured, beneficiaire=nir,
                         claims=list(status.blocked_by))  # fmt: skip
            elif status.oc is not None:
                live += 1
        self.log("links-state", live=live, blocked=blocked)

    def _announce_links(self, today: date) -> None:
        for link in self.links.becoming_effective(today):
            status = self.links.status(link.nir, today, today)
            if status.blocked:
                self.log(
                    "link-blocked",
                    assure=link.insured_nir,
                    beneficiaire=link.nir,
                    oc=link.oc,
                    claims=list(status.blocked_by),
                )
            else:
                self.log(
                    "link-active",
                    assure=link.insured_nir,
                    beneficiaire=link.nir,
                    oc=link.oc,
                    requested=link.requested.isoformat(),
                )

    # -- receiving ----------------------------------------------------------------------------

    async def poll(self) -> None:
        for partner in self.hub.partners():
            for name in self.hub.list_depot(partner):
                size = self.hub.depot_size(partner, name)
                if size > MAX_SEALED_BYTES:
                    self._refuse_oversize(partner, name, size)  # never read into memory
                else:
                    try:
                        data = self.hub.read_depot(partner, name)
                    except Changed as exc:
                        self._refuse_changed(partner, name, str(exc))
                    else:
                        self._receive(partner, name, data)
                self.kernel.journal.commit()
                self.hub.consume(partner, name)

    def _refuse_oversize(self, partner: str, name: str, size: int) -> None:
        self.log("file-received", sender=partner, name=name, evidence={"size": size})
        reason = f"{size} bytes, more than {MAX_SEALED_BYTES}"
        self.log("file-refused", sender=partner, name=name, code="oversize", reason=reason)
        if self.kernel.role_of(partner) == "ps":
            self._answer_lots(partner, 0, "0" * 64, [], [_file_anomaly(codes.ARL["0001 005"])])

    def _refuse_changed(self, partner: str, name: str, reason: str) -> None:
        """A file whose bytes are not those the hub delivered: refused with its own reason,
        answered (a PS) by a negative ARL for modified content."""
        self.log("file-received", sender=partner, name=name)
        self.log("file-refused", sender=partner, name=name, code="changed-after-delivery",
                 reason=reason)  # fmt: skip
        if self.kernel.role_of(partner) == "ps":
            self._answer_lots(partner, 0, "0" * 64, [], [_file_anomaly(codes.ARL["0002 002"])])

    def _receive(self, partner: str, name: str, data: bytes) -> None:
        role = self.kernel.role_of(partner)
        digest = hashlib.sha256(data).hexdigest()
        self.log("file-received", sender=partner, name=name, evidence={"size": len(data)})
        try:
            opened = self.open(data)
            if opened.sender != partner:
                raise _Refusal("0002 004", f"signed by {opened.sender} in {partner}'s mailbox")
            kind = detect(opened.content).name
        except SealError as exc:
            self.archive(name, data, None)
            code = codes.arl_for_seal_error(exc.code)
            self.log("file-refused", sender=partner, name=name, code=exc.code, reason=exc.detail)
            if role == "ps":
                self._answer_lots(partner, 0, digest, [], [_file_anomaly(code)])
            return
        except _Refusal as exc:
            self.archive(name, data, None)
            self.log("file-refused", sender=partner, name=name, code=exc.code, reason=exc.reason)
            if role == "ps":
                self._answer_lots(partner, 0, digest, [], [_file_anomaly(codes.ARL[exc.code])])
            return
        except FormatError as exc:
            self.archive(name, data, opened.content)
            self.log("file-refused", sender=partner, name=name, code="format", reason=str(exc))
            if role == "ps":
                self._answer_lots(partner, 0, digest, [], [_arl_anomaly(exc.anomaly, b"")])
            return
        stem = self.archive(name, data, opened.content)
        if role == "ps" and kind == "b2":
            self._on_lot_file(partner, opened.content, digest, stem)
        elif role == "oc" and kind == "oc-answer":
            self._on_oc_answer(partner, opened.content, stem)
        else:
            self.log(
                "file-refused",
                sender=partner,
                name=name,
                code="unexpected",
                reason=f"a {kind} file from a {role}",
            )
            if role == "ps":
                self._answer_lots(partner, 0, digest, [], [_file_anomaly(codes.ARL["0001 001"])])

    def _on_lot_file(self, ps: str, content: bytes, digest: str, stem: str) -> None:
        read = b2.read(content, "FSE")  # one decoding: anomalies, the lots and their spans
        anomalies, parsed, spans = read.anomalies, read.file, read.spans
        if parsed is None:
            error = FormatError(anomalies[0])
            self.log("lot-file-unreadable", sender=ps, reason=str(error), archive=stem)
            self._answer_lots(
                ps, b2.declared_file_id(content), digest, [], [_arl_anomaly(anomalies[0], content)]
            )
            return
        file_ident = f"{ps}/{parsed.file_id}"
        self.log("lot-file-received", file=file_ident, lots=len(parsed.lots), archive=stem)
        in_lots = {
            n: [a for a in anomalies if first <= a.record <= last] for n, first, last in spans
        }
        located = {id(a) for found in in_lots.values() for a in found}
        file_level = [_arl_anomaly(a, content) for a in anomalies if id(a) not in located]
        acks = []
        for lot in parsed.lots:
            key = (ps, lot.lot_date, lot.number)
            found = [_arl_anomaly(a, content) for a in in_lots.get(lot.number, [])]
            if file_level or found:
                status = "N"
            elif key in self.lots_seen:
                status = "D"
                found = [_file_anomaly(codes.ARL[arl.DUPLICATE_CODE])]
            else:
                status = "P"
                self.lots_seen.add(key)
                self.pending.append((ps, lot, parsed.file_id))
            billed = sum(i.totals.billed for i in lot.invoices)
            acks.append(
                arl.LotAck(lot.number, status, len(lot.invoices), billed, tuple(found[:50]))
            )
        self._answer_lots(
            ps,
            parsed.file_id,
            digest,
            acks,
            file_level[:50],
            lot_date={x.number: x.lot_date for x in parsed.lots},
        )

    def _answer_lots(
        self,
        ps: str,
        file_id: int,
        digest: str,
        acks: list[arl.LotAck],
        file_anomalies: list[arl.ArlAnomaly],
        lot_date: dict[int, date] | None = None,
    ) -> None:
        ack = arl.Arl(self.id, ps, file_id, self.now(), digest, tuple(acks), tuple(file_anomalies))
        file_codes = [a.code for a in file_anomalies]
        for lot_ack in acks:
            day = (lot_date or {})[lot_ack.lot_number]
            self.log(
                "arl-sent",
                file=f"{ps}/{file_id}",
                lot=lot_ident(ps, day, lot_ack.lot_number),
                status=lot_ack.status,
                codes=file_codes + [a.code for a in lot_ack.anomalies],
            )
        if not acks:
            self.log("arl-sent", file=f"{ps}/{file_id}", lot=None, status="N", codes=file_codes)
        self._post(ps, "ARL", arl.build(ack))

    def _post(self, partner: str, kind: str, content: bytes) -> bool:
        """Seal ``content`` for ``partner`` and publish it in its ``retour/``; False (and
        journaled) when the partner's certificate no longer allows sealing for it."""
        self.out_counter += 1
        name = f"{kind}-{self.id}-{self.out_counter:06d}.p7m"
        try:
            sealed = self.seal_for(partner, content)
        except SealError as exc:
            self.archive(name, None, content)
            self.log("file-undeliverable", to=partner, name=name, code=exc.code, reason=exc.detail)
            return False
        stem = self.archive(name, sealed, content)
        try:
            self.hub.post(partner, name, sealed)
        except AlreadyDelivered:  # our own names are unique: only a restart could do this
            self.log("file-already-delivered", to=partner, name=name)
        self.log(
            "file-sent",
            to=partner,
            name=name,
            archive=stem,
            evidence={"sha256": hashlib.sha256(content).hexdigest()},
        )
        return True

    # -- the REST channel -----------------------------------------------------------------

    async def _push(self, oc: str, kind: str, content: bytes) -> None:
        """Sign ``content`` as a JSON document for ``oc`` and POST it to its webhook, journaled
        as a file sent (``channel`` rest) and archived (the token, and the fixed-width form as
        its clear copy); delivered now or retried (:meth:`_deliver`)."""
        self.out_counter += 1
        name = f"{kind}-{self.id}-{self.out_counter:06d}{rest.SUFFIX}"
        token = rest.sign_document(self, content)
        stem = self.archive(name, token, content)
        self.log("file-sent", to=oc, name=name, archive=stem, channel="rest",
                 evidence={"sha256": hashlib.sha256(content).hexdigest()})  # fmt: skip
        await self._deliver(oc, name, token, 1, self.clock.now())

    async def _deliver(
        self, oc: str, name: str, token: bytes, attempt: int, first: datetime
    ) -> None:
        """One try at delivering document ``name``. A 2xx reply delivers it (a body is the
        mutuelle's answer, read at once); a refusal (4xx but 408, 425, 429) ends it
        undeliverable; no reply or an unavailable webhook is retried on the simulated clock,
        waiting :data:`REST_RETRY_FIRST` doubled at each try up to :data:`REST_RETRY_MAX`,
        until :data:`REST_GIVE_UP` after the first try."""
        try:
            reply: Reply | None = await self.webhooks[oc].post(name, token)
            reason = reply.reason() if reply else ""
        except WebhookError as exc:
            reply, reason = None, str(exc)
        if reply is not None and reply.delivered:
            self.log("file-delivered", to=oc, name=name, status=reply.status, channel="rest")
            if reply.body.strip():
                self.accept_answer(reply.body, reply.name, oc)
            return
        if reply is not None and not reply.retryable:
            self.log("file-undeliverable", to=oc, name=name, code=f"http-{reply.status}",
                     reason=reason, channel="rest")  # fmt: skip
            return
        wait = min(REST_RETRY_FIRST * 2 ** min(attempt - 1, 16), REST_RETRY_MAX)
        retry_at = self.clock.now() + wait
        if retry_at - first > REST_GIVE_UP:
            self.log("file-undeliverable", to=oc, name=name, code="webhook-unavailable",
                     reason=f"{attempt} tries since {first:%d/%m %H:%M}, the last: {reason}",
                     channel="rest")  # fmt: skip
            return
        self.log("upload-failed", to=oc, name=name, reason=reason, retry=True, attempt=attempt,
                 next=retry_at.isoformat(), channel="rest")  # fmt: skip

        async def again() -> None:
            await self._deliver(oc, name, token, attempt + 1, first)

        self.clock.at(retry_at, again, f"{self.id} retries {name}")

    def accept_answer(self, token: bytes, name: str = "", sender: str | None = None) -> str | None:
        """An OC answer that came over REST (a webhook's reply, or ``POST /api/oc/answers``),
        opened, checked and processed as one fetched from the hub: journaled as received
        (under the ``name`` its mutuelle gave it, or one of ours), then refused or taken.
        ``sender``: the mutuelle it must come from (the webhook posted to). The reason it was
        refused (what its sender may be told), or None when it was taken."""
        self.rest_in_counter += 1
        if not names.is_final(name):
            name = f"OCR-{self.id}-in-{self.rest_in_counter:06d}{rest.SUFFIX}"
        try:
            signed = rest.open_seal(self.kernel, token, self.now())
        except SealError as exc:
            who = sender or "unknown"
            self.log("file-received", sender=who, name=name, channel="rest",
                     evidence={"size": len(token)})  # fmt: skip
            self.archive(name, token, None)
            self.log("file-refused", sender=who, name=name, code=exc.code, reason=exc.detail)
            return exc.public_message
        who = sender or signed.signer
        self.log("file-received", sender=who, name=name, channel="rest",
                 evidence={"size": len(token)})  # fmt: skip
        try:
            if sender is not None and signed.signer != sender:
                raise _Refusal("0002 004", f"signed by {signed.signer}, answering for {sender}")
            if not self.kernel.has_role(signed.signer, "oc"):
                raise _Refusal("0002 004", f"signed by {signed.signer}, not a mutuelle")
            content = rest.content_of(signed, self.id)
            kind = detect(content).name
        except SealError as exc:
            code, reason = exc.code, exc.detail
        except _Refusal as exc:
            code, reason = exc.code, exc.reason
        except FormatError as exc:
            code, reason = "format", str(exc)
        else:
            if kind == "oc-answer":
                self._on_oc_answer(who, content, self.archive(name, token, content))
                return None
            code, reason = "unexpected", f"a {kind} document from a mutuelle"
        self.archive(name, token, None)
        self.log("file-refused", sender=who, name=name, code=code, reason=reason)
        return f"{code}: {reason}"

    def _on_oc_answer(self, oc: str, content: bytes, stem: str) -> None:
        anomalies = oc_answer.validate(content)
        if anomalies:
            self.log("file-refused", sender=oc, code="format", reason=anomalies[0].describe())
            return
        answer = oc_answer.parse(content)
        key = (oc, answer.file_id, answer.sealed_sha256)
        if key in self.answers_seen:
            self.log("duplicate-received", file=f"{self.id}/{answer.file_id}", oc=oc)
            return
        self.answers_seen.add(key)
        today = self.now().date()
        self.log(
            "oc-answer-received",
            file=f"{self.id}/{answer.file_id}",
            oc=oc,
            status=answer.status,
            refusal=answer.refusal_code,
            received=answer.received_count,
            rejected=len(answer.rejects),
            archive=stem,
        )
        for reject in answer.rejects:
            invoice, insured, person, _oc = self.decomptes.get(
                reject.invoice_number, (None, None, None, None)
            )
            self.log(
                "decompte-rejected",
                invoice=invoice,
                assure=insured,
                oc=oc,
                decompte=reject.invoice_number,
                code=reject.code,
            )
            if reject.code == "BI01" and person and self.links.deactivate(oc, person, today):
                self.log("link-deactivated", assure=insured, beneficiaire=person, oc=oc,
                         reason="BI01")  # fmt: skip

    # -- the daily batch ----------------------------------------------------------------------

    async def batch(self) -> None:
        today = self.now().date()
        self._announce_links(today)
        settled = [
            self._settle(ps, lot, inv) for ps, lot, _file in self.pending for inv in lot.invoices
        ]
        files = {(ps, lot.number, lot.lot_date): file_id for ps, lot, file_id in self.pending}
        self.pending = []
        by_ps: dict[str, list[Settlement]] = {}
        for s in settled:
            by_ps.setdefault(s.ps, []).append(s)
        for ps, items in sorted(by_ps.items()):
            self._return_to_ps(ps, items, files, today)
        await self._forward_decomptes([s for s in settled if s.code is None], today)
        self._pay_ij(today)

    def _settle(self, ps: str, lot: b2.Lot, inv: b2.Invoice) -> Settlement:
        """Check and liquidate one invoice, journaled."""
        today = self.now().date()
        insured = self.insured.get(inv.insured_nir)
        who = (
            next((b for b in insured.beneficiaries if b.nir == inv.beneficiary_nir), None)
            if insured
            else None
        )
        acts = [x for x in inv.lines if isinstance(x, b2.SETTLED_LINES)]
        specialty = self.specialties[ps].specialty if ps in self.specialties else ""
        code: str | None = None
        if insured is None or who is None:
            code = "0250 050"
        elif insured.rights_until is not None and inv.invoice_date > insured.rights_until:
            code = "0250 060"
        elif (ps, inv.invoice_number) in self.paid_invoices:
            code = "2900 005"
        elif len(acts) != len(inv.lines) or not all(_known(a) for a in acts):
            code = "0318 020"
        elif not all(may_bill(specialty, a.act_code) for a in acts):
            code = "0318 010"
        elif not all(_biology_agrees(a) for a in acts):
            code = "0318 030"
        elif not all(within_price_limit(a.act_code, a.fee_amount, a.quantity) for a in acts):
            code = "0318 040"
        elif not all(for_age(a.act_code, _age_on(who.birth_date, inv.invoice_date)) for a in acts):
            code = "0318 050"
        elif not all(ccam_agrees(a.act_code, *_ccam(a)) for a in acts):
            code = "0318 060"
        elif inv.invoice_date > today:
            code = "0120 001"
        result = Settlement(ps, lot, inv, code, insured=insured)
        paid_on = (
            add_jours_ouvres(_midday(today), 1, self.alsace_moselle).date()
            if code is None
            else None
        )
        if code is None and who is not None and insured is not None:
            billed = [
                Billed(
                    a.act_code,
                    a.fee_amount,
                    a.coefficient,
                    a.quantity,
                    a.unit_price if ACTS[a.act_code].per_box else None,
                    tuple(nabm_code(x.code) or x.code for x in _biology(a)),
                    _ccam(a)[1],
                )
                for a in acts
            ]
            counters = self.counters.setdefault(who.nir, Counters())
            patient = patient_of(who, insured)
            result.acts = tuple(
                liquidate(billed, specialty, ps, patient, inv.invoice_date, counters)
            )
            self.paid_invoices.add((ps, inv.invoice_number))
        deferred = recovered = 0
        if code is None:
            owed = self.deferred.get(inv.insured_nir, 0)
            if result.tiers_payant:
                deferred = result.deductible
                self.deferred[inv.insured_nir] = owed + deferred
            elif owed:
                recovered = min(owed, result.amo_due + result.c2s)
                self.deferred[inv.insured_nir] = owed - recovered
        self.log(
            "invoice-liquidated",
            invoice=invoice_ident(ps, inv.invoice_number),
            lot=lot_ident(ps, lot.lot_date, lot.number),
            assure=inv.insured_nir,
            beneficiaire=inv.beneficiary_nir,
            status="rejected" if code else "paid",
            code=code,
            billed=inv.totals.billed,
            amo=result.amo_due,
            c2s=result.c2s,
            pf=sum(a.pf for a in result.acts),
            franchise=sum(a.franchise for a in result.acts),
            payee="ps" if result.tiers_payant else "assure",
            # the assuré's account: PF and franchises of a tiers payant invoice are owed by the
            # assuré (deferred); a reimbursement to the assuré pays them back (recovered) and
            # transfers the rest (paid)
            deferred=deferred,
            recovered=recovered,
            paid=result.amo_due + result.c2s - recovered if code is None else 0,
            paid_on=paid_on.isoformat() if paid_on else None,
        )
        return result

    def _return_to_ps(
        self,
        ps: str,
        items: list[Settlement],
        files: dict[tuple[str, int, date], int],
        today: date,
    ) -> None:
        lots: dict[tuple[int, date], list[noemie_ps.ReturnInvoice]] = {}
        to_ps = 0
        for s in items:
            lots.setdefault((s.lot.number, s.lot.lot_date), []).append(_return_invoice(s))
            if s.code is None and s.tiers_payant:
                to_ps += s.amo_due + s.c2s
        return_lots = tuple(
            noemie_ps.ReturnLot(day, number, files[(ps, number, day)], tuple(invoices))
            for (number, day), invoices in lots.items()
        )
        payments: tuple[noemie_ps.Payment, ...] = ()
        value_date = add_jours_ouvres(_midday(today), 1, self.alsace_moselle).date()
        if to_ps:
            reference = f"VIR{self.out_counter + 1:07d}"
            payments = (noemie_ps.Payment(reference, value_date, to_ps),)
        who = self.specialties.get(ps)
        name = ascii_upper(f"{who.last_name} {who.first_name}", 25) if who else None
        content = noemie_ps.build(
            noemie_ps.PsReturn(
                self.id,
                ps,
                self.out_counter + 1,
                self.now(),
                (
                    noemie_ps.Payee(
                        ps, name, (noemie_ps.AccountingDay(today, return_lots, payments),)
                    ),
                ),
            )
        )
        if self._post(ps, "NOE", content) and to_ps:
            self.log("amo-payment", to=ps, amount=to_ps, value_date=value_date.isoformat())

    async def _forward_decomptes(self, paid: list[Settlement], today: date) -> None:
        by_oc: dict[str, list[tuple[Settlement, b2.Invoice]]] = {}
        for s in paid:
            status = self.links.status(s.invoice.beneficiary_nir, s.invoice.invoice_date, today)
            ident = invoice_ident(s.ps, s.invoice.invoice_number)
            if status.blocked:
                self.log(
                    "decompte-withheld",
                    invoice=ident,
                    assure=s.invoice.insured_nir,
                    beneficiaire=s.invoice.beneficiary_nir,
                    reason="link-blocked",
                    claims=list(status.blocked_by),
                )
                continue
            if status.oc is None:
                continue
            self.decompte_counter += 1
            number = self.decompte_counter
            self.decomptes[number] = (
                ident,
                s.invoice.insured_nir,
                s.invoice.beneficiary_nir,
                status.oc,
            )
            by_oc.setdefault(status.oc, []).append(
                (s, _decompte(s, number, status.oc, self.specialties))
            )
        for oc, items in sorted(by_oc.items()):
            file_id = self.out_counter + 1
            by_ps: dict[str, list[b2.Invoice]] = {}
            for s, dec in items:
                by_ps.setdefault(s.ps, []).append(dec)
            lots = tuple(
                b2.Lot(n, ps, self.id, today, tuple(invoices))
                for n, (ps, invoices) in enumerate(sorted(by_ps.items()), start=1)
            )
            day_file = b2.B2File("DEC", "CP", self.id, "OC", oc, file_id, self.now(), lots)
            if oc in self.noemie_oc:
                content = noemie_oc.build(noemie_oc.from_b2(day_file, today))
            else:
                content = b2.build(day_file)
            for s, dec in items:
                self.log(
                    "decompte-sent",
                    invoice=invoice_ident(s.ps, s.invoice.invoice_number),
                    assure=s.invoice.insured_nir,
                    beneficiaire=s.invoice.beneficiary_nir,
                    oc=oc,
                    file=f"{self.id}/{file_id}",
                    decompte=dec.invoice_number,
                    billed=s.invoice.totals.billed,
                    amo=s.amo_due,
                )
            if oc in self.webhooks:
                await self._push(oc, "DEC", content)
            else:
                self._post(oc, "DEC", content)

    def _pay_ij(self, today: date) -> None:
        rng = self.rng
        b = self.behaviour
        for employer in self.employers if self.kernel.care_goes_on() else ():
            for employee in employer.employees:
                if rng.random() < b.sick_leave_rate:
                    attested = employee.monthly_gross
                    if rng.random() < b.salary_error_share:
                        # a bonus counted twice, or variable pay left out
                        attested += rng.choice((1, -1)) * rng.randrange(100_00, 800_00, 100)
                    end = today + timedelta(days=rng.randint(4, 25))
                    kind = leave_kind(rng, employee, b.at_mp_share, b.maternity_share,
                                      b.paternity_share)  # fmt: skip
                    if kind == "maternite":  # 16 weeks: 6 before the birth, 10 after
                        end = today + timedelta(days=16 * 7 - 1)
                    elif kind == "paternite":
                        end = today + timedelta(days=PATERNITY_DAYS - 1)
                    leave = Leave(
                        f"AT{self.id[-4:]}{len(self.leaves) + 1:04d}",
                        employer,
                        employee,
                        today,
                        end,
                        attested,
                        kind,
                    )
                    self.leaves.append(leave)
                    self.log(
                        "sick-leave",
                        assure=employee.nir,
                        employer=employer.siret,
                        leave=leave.number,
                        leave_kind=kind,
                        start=today.isoformat(),
                        end=end.isoformat(),
                    )
        for employer in self.employers:
            employees = []
            credit = debit = 0
            for leave in self.leaves:
                due = leave.due(today) if leave.employer is employer else None
                if due is None:
                    continue
                periods, taken_back = due
                if taken_back:
                    debit += taken_back
                    self.log(
                        "ij-corrected",
                        assure=leave.employee.nir,
                        employer=employer.siret,
                        leave=leave.number,
                        debit=taken_back,
                    )
                if not periods:
                    continue
                credit += sum(p.net for p in periods)
                employees.append(
                    ij_employee(leave.employee, leave.number, leave.start, periods, leave.kind)
                )
                for period in periods:
                    self.log(
                        "ij-sent",
                        assure=leave.employee.nir,
                        employer=employer.siret,
                        leave=leave.number,
                        leave_kind=leave.kind,
                        start=period.start.isoformat(),
                        end=period.end.isoformat(),
                        gross=period.gross,
                        net=period.net,
                    )
            if not employees and not debit:
                continue
            reference = f"DET{self.out_counter + 1:07d}"
            movements = [noemie_550.Movement(reference, today, "IJ", "00", "VI", 0, credit)]
            if debit:
                # the IJ paid on a wrong salary, taken back from the employer (CPT-SOL: the
                # debt left once this payment's credit is set against it)
                movements.append(noemie_550.Movement(
                    reference, today, "IJ", "CO", "RE", max(0, debit - credit), debit, "D"
                ))  # fmt: skip
            content = noemie_550.build(
                noemie_550.Noemie550(
                    self.id,
                    employer.siret,
                    self.out_counter + 1,
                    self.now(),
                    (
                        noemie_550.Employer(
                            employer.siret,
                            ascii_upper(employer.name, 25),
                            (noemie_550.Day(today, tuple(employees), tuple(movements)),),
                        ),
                    ),
                )
            )
            self._post(employer.siret, "IJ", content)


class _Refusal(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def _known(line: b2.ProfessionalAct | b2.HospitalLine) -> bool:
    """True when the line's act is in the nomenclature, on the line it is billed on: a stay's
    on a Type 3, any other on a Type 4."""
    act = ACTS.get(line.act_code)
    return act is not None and act.hospital == isinstance(line, b2.HospitalLine)


def _biology(line: b2.ProfessionalAct | b2.HospitalLine) -> tuple[b2.NabmAnalysis, ...]:
    """The NABM analyses of a line (only a Type 4 has any)."""
    return line.biology if isinstance(line, b2.ProfessionalAct) else ()


def _ccam(line: b2.ProfessionalAct | b2.HospitalLine) -> tuple[str | None, str | None]:
    """The CCAM code and teeth of a line's Type 4M, (None, None) without one (a Type 3 has
    none)."""
    detail = line.ccam if isinstance(line, b2.ProfessionalAct) else None
    return (detail.ccam_code, detail.teeth) if detail is not None else (None, None)


def _biology_agrees(act: b2.ProfessionalAct | b2.HospitalLine) -> bool:
    """:func:`biology_agrees` of a Type 4 line and its Type 4B analyses (a Type 3 has none)."""
    written = tuple(x.code for x in _biology(act) for _ in range(x.quantity))
    return biology_agrees(act.act_code, act.coefficient, written, act.care_date)


def _age_on(birth: date, day: date) -> int:
    """Whole years from ``birth`` to ``day``."""
    return Patient(birth).age_on(day)


def _midday(day: date) -> datetime:
    return datetime.combine(day, time(12))


def _file_anomaly(code: codes.Code) -> arl.ArlAnomaly:
    return arl.ArlAnomaly(code.code, code.short_label)


def _arl_anomaly(anomaly: Anomaly, content: bytes) -> arl.ArlAnomaly:
    """A format anomaly of a received file as an ARL-ANO record: code, where, what."""
    code = codes.arl_for_anomaly(anomaly)
    record_type = None
    if anomaly.record:
        try:
            head = b2.FRAMING.split(content)[anomaly.record - 1].text[:2]
        except (FormatError, IndexError):
            head = ""
        record_type = head.rstrip() if head.isprintable() and head.strip() else None
    return arl.ArlAnomaly(
        code.code,
        code.short_label,
        min(anomaly.record, 9_999_999),
        record_type,
        anomaly.field[:24] or None,
        min(anomaly.position, 999),
    )


def _return_invoice(s: Settlement) -> noemie_ps.ReturnInvoice:
    inv = s.invoice
    insured = s.insured
    who = (
        next((b for b in insured.beneficiaries if b.nir == inv.beneficiary_nir), None)
        if insured
        else None
    )
    lines = [x for x in inv.lines if isinstance(x, b2.SETTLED_LINES)]
    if s.code is None:
        # tiers payant: the PS is paid the whole AMO part, nothing deducted (the assuré's
        # account bears the PF and franchises); otherwise the return says what the assuré got
        acts = tuple(
            noemie_ps.ReturnAct(
                a.code,
                inv.invoice_date,
                a.fee,
                a.base,
                a.rate,
                s.amo_of(a),
                deductions=0 if s.tiers_payant else a.pf + a.franchise,
            )
            for a in s.acts
        )
        # "participation forfaitaire déduite" is said only where it was: a payment to the
        # assuré (under tiers payant the PS is paid in full)
        deducted = not s.tiers_payant and any(a.pf for a in s.acts)
        notices = (_notice("S", "0900 001"),) if deducted else ()
    else:
        acts = tuple(
            noemie_ps.ReturnAct(x.act_code, x.care_date, x.fee_amount, x.base, x.rate, 0)
            for x in lines
        )
        notices = (_notice("R", s.code),)
    unknown = "INCONNU"
    return noemie_ps.ReturnInvoice(
        invoice_number=inv.invoice_number,
        care_date=inv.invoice_date,
        status="R" if s.code else "P",
        tiers_payant=inv.tiers_payant,
        insured_nir=inv.insured_nir,
        insured_nir_key=inv.insured_nir_key,
        insured_last_name=ascii_upper(insured.person.last_name, 25) if insured else unknown,
        insured_first_name=ascii_upper(insured.person.first_name, 15) if insured else unknown,
        patient_birth_date=inv.birth_date,
        patient_birth_rank=inv.birth_rank,
        patient_last_name=ascii_upper(who.last_name, 25) if who else unknown,
        patient_first_name=ascii_upper(who.first_name, 15) if who else unknown,
        insurance_nature=inv.insurance_nature,
        acts=acts,
        notices=notices,
        c2s_amount=s.c2s if s.code is None and s.c2s else None,
    )


def _notice(kind: str, code: str) -> noemie_ps.Notice:
    return noemie_ps.Notice(kind, code, codes.AMO[code].short_label)


def _decompte(
    s: Settlement, number: int, oc: str, practitioners: dict[str, pop.Practitioner]
) -> b2.Invoice:
    """The décompte of a paid invoice for mutuelle ``oc``, numbered by the caisse: the acts
    with the AMO part paid; the mutuelle computes its own part."""
    inv = s.invoice
    ps = practitioners[s.ps]
    return b2.Invoice(
        invoice_number=number,
        insured_nir=inv.insured_nir,
        insured_nir_key=inv.insured_nir_key,
        beneficiary_nir=inv.beneficiary_nir,
        beneficiary_nir_key=inv.beneficiary_nir_key,
        birth_date=inv.birth_date,
        invoice_date=inv.invoice_date,
        lines=tuple(b2_act(a, ps, inv.invoice_date, s.amo_of(a)) for a in s.acts),
        managing_caisse=inv.managing_caisse,
        managing_centre=inv.managing_centre,
        tiers_payant=inv.tiers_payant,
        exemption=inv.exemption,
        oc_contract_type="01",
        oc_number=oc,
        top_mutualiste=True,
        care_pathway=inv.care_pathway,
    )
