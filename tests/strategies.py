"""Hypothesis strategies derived from the layout tables, and mutations of valid files.

A typed object's attribute takes its strategy from the layout field of the same name, so the
strategies follow the tables; only amounts that must add up are bounded by hand.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from hypothesis import strategies as st

from noemie_sim.sim.norms import arl, b2, noemie_550, noemie_oc, noemie_ps, oc_answer
from noemie_sim.sim.norms.codec import Field, Kind, RecordLayout
from noemie_sim.sim.norms.keys import NIR_PATTERN, nir_key

PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "@")
SMALL_AMOUNT = st.integers(0, 99_999)


def for_field(f: Field) -> st.SearchStrategy[Any]:
    """Any value the codec must accept for field ``f``."""
    if f.kind in (Kind.NUMERIC, Kind.AMOUNT):
        inner: st.SearchStrategy[Any] = st.integers(0, 10**f.length - 1)
    elif f.kind is Kind.TEXT:
        if f.choices:
            inner = st.sampled_from(f.choices)
        elif f.pattern:
            inner = st.from_regex(f.pattern, fullmatch=True).filter(lambda s: len(s) <= f.length)
        else:
            inner = st.text(PRINTABLE, min_size=1, max_size=f.length).map(str.rstrip).filter(bool)
    elif f.kind is Kind.TIMESTAMP:
        inner = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
            lambda d: d.replace(microsecond=0)
        )
    elif f.kind is Kind.DATE8:
        inner = st.dates(date(1900, 1, 1), date(2099, 12, 31))
    else:  # two-digit years: the century the pivot gives
        inner = st.dates(date(1900 + f.pivot, 1, 1), date(2099 + f.pivot - 100, 12, 31))
    return st.one_of(st.none(), inner) if f.optional else inner


def typed(
    cls: type, lay: RecordLayout, **overrides: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Instances of dataclass ``cls`` whose fields follow ``lay`` unless overridden."""
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        if f.name in overrides:
            kwargs[f.name] = overrides[f.name]
        elif lay.has(f.name):
            kwargs[f.name] = for_field(lay.field(f.name))
    return st.builds(cls, **kwargs)


NIRS = st.from_regex(NIR_PATTERN, fullmatch=True)


@st.composite
def nir_pair(draw: st.DrawFn) -> tuple[str, int]:
    nir = draw(NIRS)
    return nir, nir_key(nir)


#: a NABM analysis of a Type 4B: the strategies of its first entry's fields
NABM_ANALYSES = st.builds(
    b2.NabmAnalysis,
    care_date=for_field(b2.BIOLOGY.field("date_1")),
    code=for_field(b2.BIOLOGY.field("nabm_1")),
    quantity=for_field(b2.BIOLOGY.field("quantity_1")),
)


@st.composite
def acts(draw: st.DrawFn) -> b2.ProfessionalAct:
    fee = draw(SMALL_AMOUNT)
    # a biology act (B) with its analyses, in one Type 4B or more, one time in four
    with_biology = draw(st.integers(0, 3)) == 0
    biology = draw(st.lists(NABM_ANALYSES, min_size=1, max_size=11)) if with_biology else []
    act: b2.ProfessionalAct = draw(
        typed(
            b2.ProfessionalAct,
            b2.ACT,
            fee_amount=st.just(fee),
            amo_amount=st.integers(0, fee),
            unit_price=SMALL_AMOUNT,
            base=SMALL_AMOUNT,
            amc_amount=SMALL_AMOUNT,
            ccam=st.none() | typed(b2.CcamDetail, b2.CCAM),
            **({"act_code": st.just("B"), "biology": st.just(tuple(biology))} if biology else {}),
        )
    )
    return act


@st.composite
def hospital_lines(draw: st.DrawFn) -> b2.HospitalLine:
    total = draw(SMALL_AMOUNT)
    line: b2.HospitalLine = draw(
        typed(
            b2.HospitalLine,
            b2.HOSPITAL,
            total_amount=st.just(total),
            amo_amount=st.integers(0, total),
            unit_price=SMALL_AMOUNT,
            base=SMALL_AMOUNT,
            amc_amount=SMALL_AMOUNT,
        )
    )
    return line


LINES = st.one_of(
    acts(),
    hospital_lines(),
    typed(b2.LppLine, b2.LPP, total_amount=SMALL_AMOUNT),
    typed(b2.UcdLine, b2.UCD, total_amount=SMALL_AMOUNT),
)


@st.composite
def invoices(draw: st.DrawFn, number: int, decompte_for: str | None = None) -> b2.Invoice:
    insured, insured_key = draw(nir_pair())
    beneficiary, beneficiary_key = draw(nir_pair())
    oc = (
        decompte_for
        if decompte_for
        else draw(st.none() | st.from_regex(r"[0-9]{8}", fullmatch=True))
    )
    inv: b2.Invoice = draw(
        typed(
            b2.Invoice,
            b2.INVOICE,
            invoice_number=st.just(number),
            insured_nir=st.just(insured),
            insured_nir_key=st.just(insured_key),
            beneficiary_nir=st.just(beneficiary),
            beneficiary_nir_key=st.just(beneficiary_key),
            beneficiary_rank=st.integers(0, 999),
            care_pathway=for_field(b2.BENEFICIARY.field("care_pathway")),
            lines=st.lists(LINES, min_size=1, max_size=4).map(tuple),
            oc_number=st.just(oc),
            top_mutualiste=st.just(True) if decompte_for else st.booleans(),
        )
    )
    return inv


@st.composite
def b2_files(draw: st.DrawFn, nature: str = "FSE") -> b2.B2File:
    receiver = draw(st.from_regex(r"[0-9]{8}", fullmatch=True)) if nature == "DEC" else "017510000"
    counter = iter(range(1, 10**6))
    lots = []
    for number in draw(st.lists(st.integers(1, 999), min_size=1, max_size=3, unique=True)):
        count = draw(st.integers(1, 3))
        invs = tuple(
            draw(invoices(next(counter), receiver if nature == "DEC" else None))
            for _ in range(count)
        )
        lots.append(
            draw(
                typed(
                    b2.Lot,
                    b2.LOT_HEADER,
                    number=st.just(number),
                    ps_number=st.just("991086265"),
                    invoices=st.just(invs),
                )
            )
        )
    file: b2.B2File = draw(
        typed(
            b2.B2File,
            b2.FILE_HEADER,
            nature=st.just(nature),
            receiver=st.just(receiver),
            lots=st.just(tuple(lots)),
        )
    )
    return file


ARL_ANOMALIES = typed(arl.ArlAnomaly, arl.ANOMALY)
ARLS = typed(
    arl.Arl,
    arl.HEADER,
    lots=st.lists(
        typed(
            arl.LotAck,
            arl.LOT,
            lot_number=st.integers(0, 999),
            anomalies=st.lists(ARL_ANOMALIES, max_size=3).map(tuple),
        ),
        max_size=4,
    ).map(tuple),
    anomalies=st.lists(ARL_ANOMALIES, max_size=3).map(tuple),
)
OC_ANSWERS = typed(
    oc_answer.OcAnswer,
    oc_answer.HEADER,
    received_count=st.integers(0, 99_999),
    rejects=st.lists(typed(oc_answer.OcReject, oc_answer.REJECT), max_size=5).map(tuple),
)

_RETURN_ACT = typed(
    noemie_ps.ReturnAct,
    noemie_ps.ACT_PRESCRIBER,
    fee_amount=SMALL_AMOUNT,
    base=SMALL_AMOUNT,
    amo_amount=SMALL_AMOUNT,
    deductions=SMALL_AMOUNT,
    executant=st.none() | st.from_regex(r"[0-9]{9}", fullmatch=True),
    prescriber=st.none(),
)
_RETURN_INVOICE = typed(
    noemie_ps.ReturnInvoice,
    noemie_ps.INVOICE,
    **{
        f.name: for_field(f)
        for lay in (noemie_ps.INSURED, noemie_ps.PATIENT, noemie_ps.NATURE)
        for f in lay.data_fields
    },
    acts=st.lists(_RETURN_ACT, min_size=1, max_size=3).map(tuple),
    notices=st.lists(typed(noemie_ps.Notice, noemie_ps.NOTICE), max_size=2).map(tuple),
    oc_number=st.none() | st.from_regex(r"[0-9]{8}", fullmatch=True),
)
_DAYS = typed(
    noemie_ps.AccountingDay,
    noemie_ps.DAY,
    lots=st.lists(
        typed(
            noemie_ps.ReturnLot,
            noemie_ps.LOT,
            invoices=st.lists(_RETURN_INVOICE, min_size=1, max_size=2).map(tuple),
        ),
        max_size=2,
    ).map(tuple),
    payments=st.lists(typed(noemie_ps.Payment, noemie_ps.MOVEMENT), max_size=2).map(tuple),
)
PS_RETURNS = typed(
    noemie_ps.PsReturn,
    noemie_ps.REF.layouts["000"],
    payees=st.lists(
        typed(
            noemie_ps.Payee,
            noemie_ps.PAYEE,
            days=st.lists(_DAYS, min_size=1, max_size=2).map(tuple),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
)

_PERIODS = typed(
    noemie_550.IjPeriod, noemie_550.PERIOD, gross_amount=SMALL_AMOUNT, net_amount=SMALL_AMOUNT
)
_LEAVES = typed(
    noemie_550.SickLeave,
    noemie_550.LEAVE,
    periods=st.lists(_PERIODS, min_size=1, max_size=2).map(tuple),
)
_EMPLOYEES = typed(
    noemie_550.Employee,
    noemie_550.EMPLOYEE,
    coverages=st.lists(
        typed(
            noemie_550.Coverage,
            noemie_550.COVERAGE,
            leaves=st.lists(_LEAVES, min_size=1, max_size=2).map(tuple),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
)
NOEMIE_550S = typed(
    noemie_550.Noemie550,
    noemie_550.REF.layouts["000"],
    employers=st.lists(
        typed(
            noemie_550.Employer,
            noemie_550.EMPLOYER,
            days=st.lists(
                typed(
                    noemie_550.Day,
                    noemie_550.DAY,
                    employees=st.lists(_EMPLOYEES, max_size=2).map(tuple),
                    movements=st.lists(
                        typed(noemie_550.Movement, noemie_550.MOVEMENT), max_size=2
                    ).map(tuple),
                ),
                min_size=1,
                max_size=2,
            ).map(tuple),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
)

_OC_LINES = st.one_of(
    typed(noemie_oc.DecompteAct, noemie_oc.ACT, fee_amount=SMALL_AMOUNT,
          amo_amount=SMALL_AMOUNT),
    typed(noemie_oc.DecompteStayLine, noemie_oc.STAY, total_amount=SMALL_AMOUNT,
          amo_amount=SMALL_AMOUNT),
)  # fmt: skip
#: a décompte's fields held by its 110, 120 and 150 entities
_DECOMPTE_PARTS = {
    f.name: for_field(f)
    for lay in (noemie_oc.INSURED, noemie_oc.PATIENT, noemie_oc.COVERAGE)
    for f in lay.data_fields
}
NOEMIE_OCS = typed(
    noemie_oc.OcDecomptes,
    noemie_oc.REF.layouts["000"],
    oc_number=for_field(noemie_oc.RECEIVER.field("oc_number")),
    days=st.lists(
        typed(
            noemie_oc.AccountingDay,
            noemie_oc.DAY,
            decomptes=st.lists(
                typed(noemie_oc.Decompte, noemie_oc.DECOMPTE, **_DECOMPTE_PARTS,
                      lines=st.lists(_OC_LINES, min_size=1, max_size=3).map(tuple)),
                min_size=1,
                max_size=3,
            ).map(tuple),
        ),
        min_size=1,
        max_size=2,
    ).map(tuple),
)  # fmt: skip

#: kind -> (strategy of typed objects, build function, parse function)
ROUND_TRIPS: dict[str, tuple[st.SearchStrategy[Any], Any, Any]] = {
    "b2": (b2_files("FSE"), b2.build, b2.parse),
    "decompte": (b2_files("DEC"), b2.build, b2.parse),
    "arl": (ARLS, arl.build, arl.parse),
    "oc-answer": (OC_ANSWERS, oc_answer.build, oc_answer.parse),
    "noemie-ps": (PS_RETURNS, noemie_ps.build, noemie_ps.parse),
    "noemie-550": (NOEMIE_550S, noemie_550.build, noemie_550.parse),
    "noemie-oc": (NOEMIE_OCS, noemie_oc.build, noemie_oc.parse),
}


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` after 1-4 random edits: byte changes, insertions, deletions, truncation,
    a duplicated or dropped slice, a digit changed, a line end inserted."""
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["set", "insert", "delete", "truncate", "dup", "digit", "eol"]))
        pos = draw(st.integers(0, max(len(buf) - 1, 0)))
        if op == "set" and buf:
            buf[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and buf:
            del buf[pos : pos + draw(st.integers(1, 200))]
        elif op == "truncate":
            del buf[pos:]
        elif op == "dup" and buf:
            end = min(len(buf), pos + draw(st.integers(1, 300)))
            buf[end:end] = buf[pos:end]
        elif op == "digit" and buf:
            buf[pos] = draw(st.sampled_from(b"0123456789 @A"))
        elif op == "eol":
            buf[pos:pos] = draw(st.sampled_from([b"\n", b"\r\n", b"@"]))
    return bytes(buf)
