"""The mutuelle (organisme complémentaire, OC): requests its NOEMIE links, fetches décomptes,
acknowledges each file, pays or rejects each décompte.

At the start of a run it asks each caisse for the link of every contract that wants one. At
each ``poll_at`` on jours ouvrés it reads its ``retour/`` on every caisse's hub. Each décompte
file is opened and checked, then answered with one OC answer: a file it cannot open or read is
refused whole (FN01); otherwise each décompte is matched to a contract covering the care day
and paid (its part computed with the contract's grid) or rejected: BI01 unknown bénéficiaire,
CR01 contract ended, DI01 inconsistent amounts, DB01 a décompte received before.

A mutuelle on the REST channel takes its décomptes instead as signed JSON documents POSTed to
its webhook by the caisses (:meth:`Mutuelle.take_document`), settles them the same way at
once, and puts its signed answer in the reply.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import date, time, timedelta

from noemie_sim.pki.errors import SealError
from noemie_sim.sim.domain import codes
from noemie_sim.sim.domain import population as pop
from noemie_sim.sim.domain.rules import GRIDS, Liquidated, majoration, oc_part
from noemie_sim.sim.domain.text import half_up
from noemie_sim.sim.norms import b2, noemie_oc, oc_answer
from noemie_sim.sim.norms.errors import Anomaly, FormatError
from noemie_sim.sim.norms.kinds import declared_file_id, detect
from noemie_sim.sim.transport import names
from noemie_sim.sim.transport import rest as rest_transport
from noemie_sim.sim.transport.api import AlreadyDelivered, MailboxClient, TransportError

from . import rest
from .base import Actor, Kernel
from .cpam import Cpam


@dataclass(frozen=True)
class MutuelleBehaviour:
    """How a mutuelle works. The shares model its register drifting from the caisse's links:
    members it lost track of (answered BI01, which ends the link) and contracts it ended
    without the link being withdrawn (answered CR01)."""

    poll_at: tuple[time, ...] = (time(9, 0), time(15, 0))
    lost_member_share: float = 0.01
    ended_contract_share: float = 0.02


class Mutuelle(Actor):
    role = "oc"

    def __init__(
        self,
        kernel: Kernel,
        who: pop.Mutuelle,
        clients: dict[str, MailboxClient],
        behaviour: MutuelleBehaviour = MutuelleBehaviour(),
    ) -> None:
        super().__init__(kernel, who.oc_number)
        self.who = who
        self.clients = clients
        self.behaviour = behaviour
        self.requested: dict[str, list[pop.Contract]] = {}  # as the links were requested
        for contract in kernel.population.contracts_of_oc(who.oc_number):
            self.requested.setdefault(contract.insured_nir, []).append(contract)
        self.contracts = self._register(kernel.population.config.reference_day)
        self.seen: set[tuple[str, int]] = set()  # (caisse, décompte n°)
        self.files_seen: set[tuple[str, str]] = set()  # (caisse, sealed SHA-256)
        self.outbox: dict[tuple[str, str], bytes] = {}  # (caisse, name) -> sealed answer
        #: the REST channel: a document's SHA-256 -> the reply that answered it
        self.rest_answers: dict[str, rest_transport.Reply] = {}
        self.answer_counter = 0

    def request_links(self, cpams: dict[str, Cpam]) -> None:
        """Ask each assuré's caisse for the NOEMIE links of every contract that wants them,
        one per bénéficiaire covered (dated from the contract's start)."""
        insured_caisse = self.kernel.population.caisse_of
        count = 0
        for nir, contracts in sorted(self.requested.items()):
            for contract in contracts:
                cpam = cpams.get(insured_caisse.get(nir, ""))
                if contract.noemie and cpam is not None:
                    count += cpam.request_link(self.id, contract, contract.start)
        self.log("links-requested", count=count)

    def _register(self, today: date) -> dict[str, list[pop.Contract]]:
        """The mutuelle's own register of contracts, by assuré (see the behaviour)."""
        register: dict[str, list[pop.Contract]] = {}
        lost, ended = self.behaviour.lost_member_share, self.behaviour.ended_contract_share
        for nir, contracts in sorted(self.requested.items()):
            draw = self.rng.random()
            if draw < lost:
                continue
            if draw < lost + ended:
                end = today - timedelta(days=self.rng.randint(1, 20))
                contracts = [dataclasses.replace(c, end=max(c.start, end)) for c in contracts]
            register[nir] = contracts
        return register

    def start(self) -> None:
        for at in self.behaviour.poll_at:
            self.every_jour_ouvre(at, self.poll, f"{self.id} polls")

    async def poll(self) -> None:
        for (cpam, name), sealed in sorted(self.outbox.items()):
            await self._send(cpam, name, sealed)
        for cpam, client in sorted(self.clients.items()):
            try:
                for name in await client.list_incoming():
                    data = await client.receive(name)
                    await self._receive(cpam, name, data)
                    await client.delete(name)
            except TransportError as exc:
                self.log("poll-failed", to=cpam, reason=str(exc))

    async def _receive(self, cpam: str, name: str, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        self.log("file-received", sender=cpam, name=name, evidence={"size": len(data)})
        if (cpam, digest) in self.files_seen:
            self.log("duplicate-received", name=name, sender=cpam)
            return
        self.files_seen.add((cpam, digest))
        try:
            opened = self.open(data)
        except SealError as exc:
            self.archive(name, data, None)
            self.log("file-refused", sender=cpam, name=name, code=exc.code, reason=exc.detail)
            answer = self._answer(cpam, 0, digest, 0, (), refusal="FN01")
        else:
            stem = self.archive(name, data, opened.content)
            answer = self._settle_file(cpam, name, opened.content, digest, stem)
        await self._send_answer(answer)

    async def take_document(self, name: str, token: bytes) -> rest_transport.Reply:
        """A décompte file POSTed to this mutuelle's webhook (the REST channel): opened,
        settled and answered as one fetched over SFTP, the signed answer in the reply. A
        document whose seal fails is answered 400 with the uniform reason (its sender is
        not known); the same document again gets the same answer (an idempotent webhook);
        503 while the mutuelle is down (its caisse retries)."""
        if self.down_until is not None and self.clock.now() < self.down_until:
            return rest_transport.Reply(503, b"the mutuelle's system is down\n", "text/plain")
        digest = hashlib.sha256(token).hexdigest()
        # the name its caisse gives it (a name header); it names the archive: checked first
        name = name if names.is_final(name) else f"DEC-unnamed-{digest[:16]}{rest.SUFFIX}"
        try:
            signed = rest.open_seal(self.kernel, token, self.now())
        except SealError as exc:
            self.log("file-received", sender="unknown", name=name, channel="rest",
                     evidence={"size": len(token)})  # fmt: skip
            self.archive(name, token, None)
            self.log("file-refused", sender="unknown", name=name, code=exc.code, reason=exc.detail)
            return rest_transport.Reply(400, exc.public_message.encode() + b"\n", "text/plain")
        cpam = signed.signer
        self.log("file-received", sender=cpam, name=name, channel="rest",
                 evidence={"size": len(token)})  # fmt: skip
        if not self.kernel.has_role(cpam, "cpam"):  # décomptes come from caisses only
            self.archive(name, token, None)
            reason = f"signed by {cpam}, which is not a caisse"
            self.log("file-refused", sender=cpam, name=name, code="not-a-caisse", reason=reason)
            return rest_transport.Reply(403, reason.encode() + b"\n", "text/plain")
        if digest in self.rest_answers:
            self.log("duplicate-received", name=name, sender=cpam)
            return self.rest_answers[digest]
        try:
            content = rest.content_of(signed, self.id)
        except (SealError, FormatError) as exc:
            self.archive(name, token, None)
            if isinstance(exc, SealError):
                code, reason = exc.code, exc.detail
            else:
                code, reason = "format", str(exc)
            self.log("file-refused", sender=cpam, name=name, code=code, reason=reason)
            answer = self._answer(cpam, 0, digest, 0, (), refusal="FN01")
        else:
            stem = self.archive(name, token, content)
            answer = self._settle_file(cpam, name, content, digest, stem)
        reply = self._signed_answer(answer)
        self.rest_answers[digest] = reply
        return reply

    def _settle_file(
        self, cpam: str, name: str, content: bytes, digest: str, stem: str
    ) -> oc_answer.OcAnswer:
        """Read a décompte file, in B2 or NOEMIE OC form, settle each décompte; the answer to
        send (FN01 when the file cannot be read)."""
        try:
            decomptes = _read_decomptes(content)
        except FormatError as exc:
            self.log("file-refused", sender=cpam, name=name, code="format", reason=str(exc))
            return self._answer(cpam, declared_file_id(content), digest, 0, (), refusal="FN01")
        file_ident = f"{cpam}/{decomptes.file_id}"
        received = sum(len(lot.invoices) for lot in decomptes.lots)
        self.log("decompte-file-received", file=file_ident, decomptes=received, archive=stem)
        rejects = []
        for lot in decomptes.lots:
            for inv in lot.invoices:
                code = self._settle(cpam, file_ident, inv, lot.ps_number)
                if code is not None:
                    label = codes.OC[code].short_label
                    rejects.append(
                        oc_answer.OcReject(
                            inv.invoice_number,
                            inv.insured_nir,
                            inv.insured_nir_key,
                            code,
                            label,
                            lot.ps_number,
                        )
                    )
        return self._answer(cpam, decomptes.file_id, digest, received, tuple(rejects))

    def _settle(self, cpam: str, file_ident: str, inv: b2.Invoice, ps: str) -> str | None:
        """Pay or reject one décompte of the PS ``ps`` (journaled); the reject code or None
        when paid."""
        decompte = f"{cpam}/{inv.invoice_number}"
        contracts = [
            c for c in self.contracts.get(inv.insured_nir, [])
            if c.covers_person(inv.beneficiary_nir)
        ]  # fmt: skip
        covering = [c for c in contracts if c.covers(inv.invoice_date)]
        acts = [x for x in inv.lines if isinstance(x, b2.SETTLED_LINES)]
        code = None
        if (cpam, inv.invoice_number) in self.seen:
            code = "DB01"
        elif not contracts:
            code = "BI01"
        elif not covering:
            code = "CR01"
        elif len(acts) != len(inv.lines) or any(a.amo_amount > a.fee_amount for a in acts):
            code = "DI01"
        self.seen.add((cpam, inv.invoice_number))
        if code is not None:
            self.log(
                "decompte-rejected",
                file=file_ident,
                assure=inv.insured_nir,
                oc=self.id,
                decompte=decompte,
                code=code,
            )
            return code
        grid = GRIDS[covering[0].grid]
        out = inv.care_pathway == "N"
        # the PS's sector and OPTAM, from the public directory of PS (the population's)
        billing = self.kernel.population.practitioner(ps)
        non_optam = billing is not None and billing.sector == 2 and not billing.optam
        amount = sum(oc_part(_settled(a, out), grid, non_optam) for a in acts)
        self.log(
            "decompte-paid",
            file=file_ident,
            assure=inv.insured_nir,
            oc=self.id,
            decompte=decompte,
            amount=amount,
            billed=inv.totals.billed,
            amo=inv.totals.amo,
            grid=grid.name,
        )
        return None

    def _answer(
        self,
        cpam: str,
        file_id: int,
        digest: str,
        received: int,
        rejects: tuple[oc_answer.OcReject, ...],
        refusal: str | None = None,
    ) -> oc_answer.OcAnswer:
        """The answer to a file (journaled as sent by the channel that carries it)."""
        return oc_answer.OcAnswer(
            self.id,
            cpam,
            file_id,
            self.now(),
            digest,
            received,
            rejects,
            status="R" if refusal else "A",
            refusal_code=refusal,
        )

    def _answered(self, answer: oc_answer.OcAnswer) -> None:
        self.log(
            "oc-answer-sent",
            file=f"{answer.receiver}/{answer.file_id}",
            status=answer.status,
            rejected=len(answer.rejects),
            received=answer.received_count,
        )

    async def _send_answer(self, answer: oc_answer.OcAnswer) -> None:
        """Seal the answer for its caisse and upload it to the caisse's hub."""
        cpam = answer.receiver
        content = oc_answer.build(answer)
        self.answer_counter += 1
        name = f"OCR-{self.id}-{cpam}-{self.answer_counter:06d}.p7m"
        try:
            sealed = self.seal_for(cpam, content)
        except SealError as exc:
            self.log("file-not-sent", name=name, code=exc.code, reason=exc.detail)
            return
        stem = self.archive(name, sealed, content)
        self.log("file-sent", to=cpam, name=name, archive=stem,
                 evidence={"sha256": hashlib.sha256(content).hexdigest()})  # fmt: skip
        self._answered(answer)
        await self._send(cpam, name, sealed)

    def _signed_answer(self, answer: oc_answer.OcAnswer) -> rest_transport.Reply:
        """The answer as a signed JSON document, in the webhook's reply."""
        content = oc_answer.build(answer)
        self.answer_counter += 1
        name = f"OCR-{self.id}-{answer.receiver}-{self.answer_counter:06d}{rest.SUFFIX}"
        token = rest.sign_document(self, content)
        stem = self.archive(name, token, content)
        self.log("file-sent", to=answer.receiver, name=name, archive=stem, channel="rest",
                 evidence={"sha256": hashlib.sha256(content).hexdigest()})  # fmt: skip
        self._answered(answer)
        return rest_transport.Reply(200, token, rest_transport.JOSE, name)

    async def _send(self, cpam: str, name: str, sealed: bytes) -> None:
        try:
            await self.clients[cpam].send(name, sealed)
        except AlreadyDelivered:
            pass
        except TransportError as exc:
            self.outbox[(cpam, name)] = sealed
            self.log("upload-failed", name=name, reason=str(exc), retry=exc.retryable)
            return
        self.outbox.pop((cpam, name), None)


def _read_decomptes(content: bytes) -> b2.B2File:
    """The décomptes of a valid file in either form, as the B2 form carries them (a NOEMIE
    OC file through :func:`noemie_oc.to_b2`); FormatError with the first anomaly of a file
    that is not valid or not décomptes."""
    kind = detect(content).name
    if kind == "decompte":
        read = b2.read(content, "DEC")  # one decoding
        if read.anomalies or read.file is None:
            raise FormatError(read.anomalies[0])
        return read.file
    if kind == "noemie-oc":
        anomalies, oc_form = noemie_oc.read(content)  # one decoding
        if oc_form is None:
            raise FormatError(anomalies[0])
        return noemie_oc.to_b2(oc_form)
    raise FormatError(Anomaly(f"a {kind} file, not décomptes", record=1))


def _settled(act: b2.ProfessionalAct | b2.HospitalLine, out_of_pathway: bool = False) -> Liquidated:
    """The act as the caisse settled it, rebuilt from the décompte: the gross AMO part from
    the base and rate, the deductions (PF, franchise) as what the AMO paid less; out of the
    parcours de soins (Type 2S indicator N), the majoration as what the rate 40 points higher
    would have paid more (a contrat responsable does not cover it)."""
    gross = min(half_up(act.base * act.rate, 100), act.fee_amount)
    deductions = max(0, gross - act.amo_amount)
    penalty = majoration(act.base, act.rate, act.fee_amount) if out_of_pathway else 0
    return Liquidated(act.act_code, act.fee_amount, act.base, act.rate, gross, deductions, 0,
                      act.quantity, act.unit_price, penalty)  # fmt: skip
