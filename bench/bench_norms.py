"""Encode, parse and validate speed of every format, in records (or entities) per second.

    python bench/bench_norms.py [--invoices N] [--repeat R]

Each kind gets one large file built from its sample's content (N invoices, ARL lots, OC rejects,
IJ lines); each operation is timed R times and the best run is reported (the machine is noisy;
the best run is the least disturbed one).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from noemie_sim.sim.norms import arl, b2, noemie_550, noemie_ps, oc_answer, samples


def big_files(n: int) -> dict[str, tuple[Any, Callable[[Any], bytes], Callable[[bytes], Any]]]:
    """kind -> (typed object of about n invoices or lines, build, parse)."""
    fse = b2.parse(samples.b2_lot())
    dec = b2.parse(samples.decompte())

    def lots_like(lot: b2.Lot, per_lot: int = 100) -> tuple[b2.Lot, ...]:
        inv = lot.invoices[1]  # two acts, one with its CCAM detail: 6 records
        return tuple(
            replace(
                lot,
                number=k + 1,
                invoices=tuple(
                    replace(inv, invoice_number=k * per_lot + i + 1) for i in range(per_lot)
                ),
            )
            for k in range(max(1, n // per_lot))
        )

    ret = noemie_ps.parse(samples.noemie_ps_return())
    day = ret.payees[0].days[0]
    paid_lot = day.lots[0]
    ret_day = replace(
        day,
        lots=(replace(paid_lot, invoices=paid_lot.invoices * n),),
        payments=(replace(day.payments[0], amount=paid_lot.invoices[0].amo_paid * n),),
    )
    ack = arl.parse(samples.arl_positive())
    answer = oc_answer.parse(samples.oc_answer_sample())
    ij = noemie_550.parse(samples.noemie_550_sample())
    employer = ij.employers[0]
    ij_day = employer.days[0]
    return {
        "b2": (replace(fse, lots=lots_like(fse.lots[0])), b2.build, b2.parse),
        "decompte": (replace(dec, lots=lots_like(dec.lots[0])), b2.build, b2.parse),
        "noemie-ps": (
            replace(ret, payees=(replace(ret.payees[0], days=(ret_day,)),)),
            noemie_ps.build,
            noemie_ps.parse,
        ),
        "arl": (
            replace(
                ack, lots=tuple(replace(ack.lots[0], lot_number=i + 1) for i in range(min(n, 999)))
            ),
            arl.build,
            arl.parse,
        ),
        "oc-answer": (
            replace(answer, rejects=answer.rejects * n, received_count=n),
            oc_answer.build,
            oc_answer.parse,
        ),
        "noemie-550": (
            replace(
                ij,
                employers=(
                    replace(employer, days=(replace(ij_day, employees=ij_day.employees * n),)),
                ),
            ),
            noemie_550.build,
            noemie_550.parse,
        ),
    }


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from noemie_sim.sim.norms import KINDS

    print(f"{'kind':<11} {'records':>8} {'bytes':>9}   build rec/s   parse rec/s   validate rec/s")
    for name, (obj, build, parse) in big_files(args.invoices).items():
        data = build(obj)
        records = data.count(b"@") if name.startswith("noemie") else len(data) // 128
        assert KINDS[name].validate(data) == [], name
        t_build = best(partial(build, obj), args.repeat)
        t_parse = best(partial(parse, data), args.repeat)
        t_valid = best(partial(KINDS[name].validate, data), args.repeat)
        print(
            f"{name:<11} {records:>8} {len(data):>9}   {records / t_build:>11,.0f}"
            f"   {records / t_parse:>11,.0f}   {records / t_valid:>14,.0f}"
        )


if __name__ == "__main__":
    main()
