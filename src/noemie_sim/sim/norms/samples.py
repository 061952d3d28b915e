"""Small, valid, consistent sample files of every kind, built by the codecs.

They serve the README's first command (``noemie-sim explain --sample KIND``), the bundled files
in tests/fixtures, and the seeds of the fuzz tests. Amounts follow the 2025 rules of norms.md
§8: a G consultation at 30 € reimbursed at 70 % (21 €) less the 2 € participation forfaitaire.
"""

from __future__ import annotations

from datetime import date, datetime

from . import arl, b2, noemie_550, noemie_oc, noemie_ps, oc_answer
from .keys import nir_key

#: a médecin of Paris (département 75, catégorie 1); 99 is the GIE test cards' département
PS_NUMBER = "751108622"
CAISSE = "017510000"  # régime 01, caisse 751 (Paris), centre 0000
OC_NUMBER = "75942367"
SIRET = "86379402000835"
CARE_DAY = date(2026, 3, 2)
NIRS = ("1850575123045", "2920313055178", "284052A321025")
NAMES = (("MARTIN", "PAUL"), ("BERNARD", "CLAIRE"), ("ROSSI", "ANNA"))
BIRTHS = (date(1985, 5, 12), date(1992, 3, 8), date(1984, 5, 30))


def _consultation(day: date) -> b2.ProfessionalAct:
    return b2.ProfessionalAct(
        care_date=day,
        act_code="G",
        unit_price=3000,
        base=3000,
        rate=70,
        amo_amount=2100,
        fee_amount=3000,
        amc_amount=900,
    )


def _invoice(n: int, *, decompte: bool = False) -> b2.Invoice:
    nir = NIRS[n % len(NIRS)]
    lines: tuple[b2.Line, ...] = (_consultation(CARE_DAY),)
    if n == 1:  # an ECG (CCAM DEQP003) besides the consultation
        lines += (
            b2.ProfessionalAct(
                care_date=CARE_DAY,
                act_code="ADE",
                unit_price=1452,
                base=1452,
                rate=70,
                amo_amount=1016,
                fee_amount=1452,
                amc_amount=436,
                ccam=b2.CcamDetail("DEQP003"),
            ),
        )
    if decompte:  # the CPAM forwards what it paid, PF deducted
        lines = tuple(
            b2.ProfessionalAct(**{**line.__dict__, "amo_amount": line.amo_amount - 200 * (i == 0)})
            for i, line in enumerate(lines)
            if isinstance(line, b2.ProfessionalAct)
        )
    return b2.Invoice(
        invoice_number=1000 + n,
        insured_nir=nir,
        insured_nir_key=nir_key(nir),
        beneficiary_nir=nir,
        beneficiary_nir_key=nir_key(nir),
        birth_date=BIRTHS[n % 3],
        invoice_date=CARE_DAY,
        lines=lines,
        managing_caisse=751,
        managing_centre=0,
        tiers_payant="O" if n % 2 == 0 else "N",
        oc_contract_type="01",
        oc_number=OC_NUMBER,
        top_mutualiste=decompte,
        care_pathway="T",
    )


def b2_lot() -> bytes:
    """A PS's file of two lots (three invoices) to its caisse."""
    lots = (
        b2.Lot(1, PS_NUMBER, CAISSE, CARE_DAY, (_invoice(0), _invoice(1))),
        b2.Lot(2, PS_NUMBER, CAISSE, CARE_DAY, (_invoice(2),)),
    )
    return b2.build(
        b2.B2File("FSE", "PS", PS_NUMBER, "CP", CAISSE, 1, datetime(2026, 3, 2, 18, 30), lots)
    )


def decompte() -> bytes:
    """A caisse's daily décompte file for one mutuelle."""
    invoices = (_invoice(0, decompte=True), _invoice(1, decompte=True))
    lots = (b2.Lot(1, PS_NUMBER, CAISSE, date(2026, 3, 5), invoices),)
    return b2.build(
        b2.B2File("DEC", "CP", CAISSE, "OC", OC_NUMBER, 41, datetime(2026, 3, 5, 20, 0), lots)
    )


def noemie_oc_sample() -> bytes:
    """The sample décompte file in its NOEMIE OC form."""
    return noemie_oc.build(noemie_oc.from_b2(b2.parse(decompte()), date(2026, 3, 5)))


SEALED_SHA256 = "3f1c9a7e5b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"


def arl_positive() -> bytes:
    """The positive ARL of the sample B2 file."""
    return arl.build(
        arl.Arl(
            CAISSE,
            PS_NUMBER,
            1,
            datetime(2026, 3, 2, 18, 31),
            SEALED_SHA256,
            (arl.LotAck(1, "P", 2, 7452), arl.LotAck(2, "P", 1, 3000)),
        )
    )


def arl_negative() -> bytes:
    """A negative ARL: lot 2 refused for a wrong NIR key."""
    anomaly = arl.ArlAnomaly(
        "0250 002",
        "Cle NIR erronee",
        record=14,
        record_type="2",
        field="insured_nir_key",
        position=25,
    )
    return arl.build(
        arl.Arl(
            CAISSE,
            PS_NUMBER,
            1,
            datetime(2026, 3, 2, 18, 31),
            SEALED_SHA256,
            (arl.LotAck(1, "P", 2, 7452), arl.LotAck(2, "N", 1, 3000, (anomaly,))),
        )
    )


def noemie_ps_return() -> bytes:
    """A 580 return: one invoice paid, one rejected as already paid (2900 005)."""
    paid = noemie_ps.ReturnInvoice(
        invoice_number=1000,
        care_date=CARE_DAY,
        status="P",
        tiers_payant="O",
        insured_nir=NIRS[0],
        insured_nir_key=nir_key(NIRS[0]),
        insured_last_name="MARTIN",
        insured_first_name="PAUL",
        patient_birth_date=BIRTHS[0],
        patient_birth_rank=1,
        patient_last_name="MARTIN",
        patient_first_name="PAUL",
        insurance_nature="10",
        # tiers payant: the whole AMO part (70 % of 30 €); the 2 € PF go to the assuré's account
        acts=(noemie_ps.ReturnAct("G", CARE_DAY, 3000, 3000, 70, 2100),),
        oc_number=OC_NUMBER,
    )
    rejected = noemie_ps.ReturnInvoice(
        invoice_number=1002,
        care_date=CARE_DAY,
        status="R",
        tiers_payant="O",
        insured_nir=NIRS[2],
        insured_nir_key=nir_key(NIRS[2]),
        insured_last_name="ROSSI",
        insured_first_name="ANNA",
        patient_birth_date=BIRTHS[2],
        patient_birth_rank=1,
        patient_last_name="ROSSI",
        patient_first_name="ANNA",
        insurance_nature="10",
        acts=(noemie_ps.ReturnAct("G", CARE_DAY, 3000, 3000, 70, 0),),
        notices=(noemie_ps.Notice("R", "2900 005", "FACTURE DEJA PAYEE"),),
    )
    day = noemie_ps.AccountingDay(
        date(2026, 3, 4),
        (
            noemie_ps.ReturnLot(CARE_DAY, 1, 1, (paid,)),
            noemie_ps.ReturnLot(CARE_DAY, 2, 1, (rejected,)),
        ),
        (noemie_ps.Payment("VIR0000001", date(2026, 3, 5), 2100),),
    )
    return noemie_ps.build(
        noemie_ps.PsReturn(
            CAISSE,
            PS_NUMBER,
            7,
            datetime(2026, 3, 4, 21, 0),
            (noemie_ps.Payee(PS_NUMBER, "DR MARTIN JEAN", (day,)),),
        )
    )


def oc_answer_sample() -> bytes:
    """A mutuelle's answer to the sample décompte file: one décompte rejected."""
    reject = oc_answer.OcReject(
        1001, NIRS[1], nir_key(NIRS[1]), "BI01", "BENEFICIAIRE INCONNU", PS_NUMBER
    )
    return oc_answer.build(
        oc_answer.OcAnswer(
            OC_NUMBER, CAISSE, 41, datetime(2026, 3, 6, 9, 0), SEALED_SHA256, 2, (reject,)
        )
    )


def noemie_550_sample() -> bytes:
    """A 550 file: one employee on sick leave, IJ paid to the employer in subrogation.

    Daily base 80.00 € -> IJ 40.00 €/day (50 %, under the 41.47 € ceiling); 3 waiting days
    (2-4 March), paid from 5 to 15 March: 11 days, 440.00 € gross, CSG+CRDS 6.7 % = 29.48 €."""
    period = noemie_550.IjPeriod(
        date(2026, 3, 5), date(2026, 3, 15), 11, 8000, 4000, 44000, 2948, 41052
    )
    leave = noemie_550.SickLeave("AT00012345", date(2026, 3, 2), (period,))
    employee = noemie_550.Employee(
        NIRS[1], nir_key(NIRS[1]), "BERNARD", "CLAIRE", (noemie_550.Coverage("10", (leave,)),)
    )
    movement = noemie_550.Movement("DET0000001", date(2026, 3, 16), "IJ", "00", "VI", 0, 41052)
    day = noemie_550.Day(date(2026, 3, 16), (employee,), (movement,))
    return noemie_550.build(
        noemie_550.Noemie550(
            CAISSE,
            SIRET,
            3,
            datetime(2026, 3, 16, 22, 0),
            (noemie_550.Employer(SIRET, "BOULANGERIE DUPONT", (day,)),),
        )
    )
