"""Write docs/norms.md from the layout tables: python tools/gen_norms_doc.py"""

from pathlib import Path

from noemie_sim.sim.norms.doc import render

if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "docs" / "norms.md"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target.name}")
