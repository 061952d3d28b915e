"""Fresh, valid files for a kit identity (``noemie-sim generate KIND --from ID --pki DIR``):
what a vendor's system would send, ready to seal, with numbers no earlier file used.

Numbering (docs/vendors.md): a B2 file of a PS carries a file number unique per PS, lots
numbered 1-999 unique per (PS, lot date) and invoices unique per PS; the file made here for
``--file N`` holds one lot (``--lot``, default N modulo 999) and invoices N x 100 + k.
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from noemie_sim.actors.network import population_of
from noemie_sim.pki.authority import Pki
from noemie_sim.sim.clock import wall_now
from noemie_sim.sim.domain.generate import INVOICES_PER_FILE, fresh_fse_file
from noemie_sim.sim.domain.population import build
from noemie_sim.sim.journal import JournalError, open_journal
from noemie_sim.sim.norms import kinds, oc_answer

from ..runner import recorded_scenario
from ..schema import ScenarioError

#: What ``generate --from`` makes for each role: the kind a party of that role sends.
FRESH_KINDS = {"ps": "b2", "oc": "oc-answer"}


def pki_time(pki_folder: Path) -> tuple[datetime, str]:
    """The time a command given ``pki_folder`` acts at by default, and why: for the ``pki/``
    of a run folder, the run's simulated time (its last journaled event: the simulated now of
    a running ``serve``, the end of a finished run), at which its certificates and CRLs are
    valid; for any other PKI, the real time."""
    journal_path = pki_folder.parent / "journal.sqlite"
    if journal_path.is_file():
        try:
            journal = open_journal(pki_folder.parent)
        except JournalError:
            journal = None
        if journal is not None:
            try:
                last = journal.last_time()
            finally:
                journal.db.close()
            if last is not None:
                return last, f"the simulated time of the run in {pki_folder.parent}"
    return wall_now(), "the real time"


def fresh_file(
    kind: str,
    party: str,
    pki_folder: Path,
    *,
    file_id: int,
    lot_number: int | None = None,
    to: str | None = None,
    at: datetime | None = None,
    count: int = 3,
    answered_sha256: str | None = None,
    seed: int = 1,
) -> tuple[bytes, str]:
    """A new, valid file of ``kind`` sent by ``party`` (a party of the PKI in ``pki_folder``);
    returns (content, recipient). ValueError saying what is wrong.

    ``b2`` (a PS): file ``file_id`` with one lot (``lot_number``, default ``file_id`` modulo
    999) of ``count`` FSE for assurés of the PS's caisse, who is the recipient, invoices
    numbered ``file_id`` x 100 + k. The patients come from the run's population, so
    ``pki_folder`` must be a run's ``pki/`` (its journal records the scenario).
    ``oc-answer`` (a mutuelle): the acknowledgement of décompte file ``file_id`` of caisse
    ``to`` (default: the first caisse of the PKI), binding ``answered_sha256`` (the SHA-256 of
    the sealed file received). Dated ``at``: default the time of the run's last journaled event
    (the simulated now of a running ``serve``), else now."""
    pki = Pki(pki_folder)
    roles = pki.parties()
    if party not in roles:
        raise ValueError(f"{party} is not a party of the PKI {pki_folder}")
    role = roles[party]
    if FRESH_KINDS.get(role) != kind:
        sends = FRESH_KINDS.get(role)
        who = f"{party} is a party of role {role}"
        raise ValueError(
            f"{who}: it sends {sends} files" if sends
            else f"{who}: generate --from makes b2 (PS) and oc-answer (OC) files"
        )  # fmt: skip
    if not 1 <= file_id <= 9_999_999:
        raise ValueError("the file number is 1 to 9999999")
    run = pki_folder.parent
    scenario = None
    if (run / "journal.sqlite").is_file():
        journal = open_journal(run)
        try:
            try:
                scenario = recorded_scenario(journal)
            except ScenarioError:
                scenario = None
        finally:
            journal.db.close()
    at = at or pki_time(pki_folder)[0]
    if kind == "b2":
        if scenario is None:
            raise ValueError(
                f"{pki_folder} is not the pki/ of a scenario's run: a b2 file needs the run's "
                "population (its assurés), recorded in RUN_DIR/journal.sqlite"
            )
        config = scenario.config
        population = build(config.seed, population_of(config))
        rng = random.Random(f"{seed}/{party}/{file_id}")
        lot = lot_number if lot_number is not None else (file_id - 1) % 999 + 1
        if not 1 <= count < INVOICES_PER_FILE:
            raise ValueError(f"the count of FSE is 1 to {INVOICES_PER_FILE - 1}")
        content = fresh_fse_file(population, party, file_id, lot, at, count, rng)
        return content, kinds.declared_parties(content)[1]
    caisses = sorted(p for p, r in roles.items() if r == "cpam")
    recipient = to or caisses[0]
    if recipient not in caisses:
        raise ValueError(f"{recipient} is not a caisse of the PKI: one of {', '.join(caisses)}")
    answer = oc_answer.OcAnswer(party, recipient, file_id, at, answered_sha256 or "0" * 64, 0)
    return oc_answer.build(answer), recipient
