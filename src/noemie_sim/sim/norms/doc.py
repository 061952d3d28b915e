"""Render every layout table as Markdown (docs/norms.md is this function's output)."""

from __future__ import annotations

from .codec import Kind, RecordLayout
from .kinds import KINDS

INTRO = """\
# The exchange formats of noemie-sim

This page is generated from the layout tables in `src/noemie_sim/sim/norms/` by
`python tools/gen_norms_doc.py`; a test fails when it is out of date. Do not edit it by hand.

Each field is either **documented** (its public source is named; the confidence of each source is
in the project's reference notes, norms.md) or a **convention** of noemie-sim, where the public
documentation stops (norms.md §2.3, §3, §9). A vendor holding the real cahier des charges can
replace a table without touching the codec.

Conventions common to all formats:

- Text is ASCII. Numbers and amounts are right-aligned and zero-padded; amounts are in cents
  (two implied decimals). Text is left-aligned and space-padded. A blank optional field is
  spaces. Positions are 1-based, within the record or entity.
- Two-digit years: `AA < 70` is 20AA, else 19AA, except birth dates where the pivot is 30
  (people born before 1930 cannot be represented; norme B2 has 6-character dates).
- Every character belongs to a field: gaps are "filler" and must be spaces.
- B2-family records (B2, décomptes, ARL, OC answer) are 128 characters, end to end, no line
  separator (a consistent LF or CRLF after every record is accepted on input).
- NOEMIE entities end with `@`; each entity type has a fixed length. Every group entity is closed
  by a 990 of its level (entity count from the group's entity to the one before the 990, nested
  990s included; two amount totals over the group's lines); 999 repeats 000's parties and counts
  all entities.
"""


def render() -> str:
    """The whole Markdown page."""
    parts = [INTRO]
    for kind in KINDS.values():
        parts.append(f"\n## `{kind.name}`: {kind.title}\n")
        if kind.note:
            parts.append(f"\n{kind.note}\n")
        seen: set[str] = set()
        for lay in kind.layouts.values():
            if lay.code in seen:
                continue
            seen.add(lay.code)
            parts.append(_table(lay))
    return "".join(parts)


def _table(lay: RecordLayout) -> str:
    documented = sum(1 for f in lay.fields if f.doc)
    lines = [
        f"\n### {lay.name} `{lay.code.strip()}` — {lay.label}\n",
        f"{lay.length} characters; {documented} of {len(lay.fields)} fields documented.\n",
        "| pos | len | field | picture | meaning | source |",
        "|---:|---:|---|---|---|---|",
    ]
    for f in lay.fields:
        if f.kind is Kind.CONST:
            picture = f"`{f.const}`"
        elif f.kind is Kind.FILLER:
            picture = "blanks"
        else:
            picture = f.kind.value + (" (optional)" if f.optional else "")
        extra = []
        if f.choices:
            extra.append("values: " + ", ".join(f"`{c}`" for c in f.choices))
        if f.pattern:
            extra.append(f"pattern `{f.pattern}`")
        meaning = f.label + (" — " + "; ".join(extra) if extra else "")
        source = f.doc if f.doc else "convention"
        lines.append(
            f"| {f.start} | {f.length} | `{f.name}` | {picture} | {meaning.replace('|', '/')} "
            f"| {source} |"
        )
    return "\n".join(lines) + "\n"
