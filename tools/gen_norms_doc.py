"""Write docs/norms.md from the layout tables and docs/norms-pack.schema.json, the schema of a
norms pack's files: python tools/gen_norms_doc.py"""

from pathlib import Path

from noemie_sim.sim.norms.doc import render
from noemie_sim.sim.packs import schema_text

if __name__ == "__main__":
    docs = Path(__file__).resolve().parent.parent / "docs"
    (docs / "norms.md").write_text(render(), encoding="utf-8")
    (docs / "norms-pack.schema.json").write_text(schema_text(), encoding="utf-8")
    print("wrote norms.md and norms-pack.schema.json")
