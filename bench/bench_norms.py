"""Encode, parse and validate speed of every format, in records (or entities) per second.

    python bench/bench_norms.py [--invoices N] [--repeat R] [--norms DIR]

Each kind gets one large file built from its sample's content (N invoices, ARL lots, OC rejects,
IJ lines); each operation is timed R times (min/median/max) next to its comparison from the
same run: plain slicing of every record at its fields' positions for parse and validate, a
plain join of the field texts for build, and the ratio of the medians. Each operation is
timed twice, by turns: with the built-in tables and with a norms pack read from its folder
(--norms DIR; by default the built-in tables exported to a temporary folder and read back,
which must cost the same), and the ratio pack / built-in is printed. A JSON line per figure
goes to stderr, for scripts.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from noemie_sim.sim import packs
from noemie_sim.sim.norms import arl, b2, noemie_550, noemie_ps, oc_answer, samples
from noemie_sim.sim.norms import pack as norms_pack
from noemie_sim.sim.norms.codec import DelimitedFraming, Framing, RecordLayout


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


def timings(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        gc.collect()  # the previous run's garbage is not this one's cost
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def plain(data: bytes, framing: Framing, layouts: Mapping[str, RecordLayout]) -> tuple[
    Callable[[], object], Callable[[], object]
]:  # fmt: skip
    """The comparisons: slicing every record of ``data`` at its fields' positions (what a
    parser cannot do less than), and joining the field texts back into the file's bytes."""
    texts = [raw.text for raw in framing.split(data)]
    width = framing.code_length
    slices = {code: [(f.start - 1, f.end) for f in lay.fields] for code, lay in layouts.items()}
    end = "@" if isinstance(framing, DelimitedFraming) else ""

    def slicing() -> object:
        return [[t[a:b] for a, b in slices[t[:width]]] for t in texts]

    parts = [[t[a:b] for a, b in slices[t[:width]]] for t in texts]

    def joining() -> object:
        return "".join("".join(p) + end for p in parts).encode("ascii")

    return slicing, joining


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--norms", metavar="DIR", help="the pack to compare (default: exported)")
    args = parser.parse_args()
    from noemie_sim.sim.norms import KINDS

    with tempfile.TemporaryDirectory() as folder:
        if args.norms is None:
            packs.write_pack(norms_pack.BUILTIN, folder)
        compared = packs.read_pack(args.norms or folder)
    tables = {"built-in": norms_pack.BUILTIN, "pack": compared}
    print(f"pack {compared.name!r} (digest {compared.digest[:16]}, built-in: "
          f"{'yes' if compared.builtin else 'no'})")  # fmt: skip
    print("records/s per core, min/median/max of", args.repeat, "runs, built-in and pack by "
          "turns; x: pack / plain; p/b: pack / built-in")  # fmt: skip
    head = f"{'kind':<11} {'op':<9} {'records':>8} {'built-in median':>15} {'pack min/med/max':>32}"
    print(f"{head} {'plain median':>13} {'x':>5} {'p/b':>5}")
    for name, (obj, build, parse) in big_files(args.invoices).items():
        data = {}
        for label, pack in tables.items():
            norms_pack.install(pack)
            data[label] = build(obj)
            assert KINDS[name].validate(data[label]) == [], (name, label)
        kind = KINDS[name]
        records = len(kind.framing.split(data["pack"]))
        slicing, joining = plain(data["pack"], kind.framing, kind.layouts)
        for op, reference in (("build", joining), ("parse", slicing), ("validate", slicing)):
            rates: dict[str, list[float]] = {label: [] for label in tables}
            for _ in range(args.repeat):
                for label, pack in tables.items():
                    norms_pack.install(pack)
                    ours = {"build": partial(build, obj), "parse": partial(parse, data[label]),
                            "validate": partial(KINDS[name].validate, data[label])}[op]  # fmt: skip
                    rates[label].extend(records / t for t in timings(ours, 1))
            base = statistics.median(records / t for t in timings(reference, args.repeat))
            built_in = statistics.median(rates["built-in"])
            mine = sorted(rates["pack"])
            median = statistics.median(mine)
            print(
                f"{name:<11} {op:<9} {records:>8} {built_in:>15,.0f} "
                f"{mine[0]:>10,.0f} {median:>10,.0f} {mine[-1]:>10,.0f} {base:>13,.0f}"
                f" {median / base:>5.2f} {median / built_in:>5.2f}"
            )
            print(
                json.dumps({"bench": "norms", "kind": name, "op": op, "unit": "records/s",
                            "min": mine[0], "median": median, "max": mine[-1],
                            "built_in": built_in, "plain": base, "ratio": median / base,
                            "pack_over_built_in": median / built_in}),
                file=sys.stderr,
            )  # fmt: skip
    norms_pack.install(norms_pack.BUILTIN)


if __name__ == "__main__":
    main()
