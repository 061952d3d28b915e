"""Bring the translation catalogues up to date with the code: python tools/catalogue.py

Extracts every message the code marks (``lang._``, ``lang.n_``), merges them into each
language's ``.po`` (translations kept; a message gone from the code is dropped, a new one is
added untranslated and listed here), then compiles the ``.mo`` beside it."""

from babel.messages.pofile import read_po, write_po

from noemie_sim.scenarios.i18n import (
    LANGUAGES,
    catalogue_path,
    compiled,
    messages_in_code,
    untranslated,
)

if __name__ == "__main__":
    template = messages_in_code()
    for code in LANGUAGES[1:]:
        path = catalogue_path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as po:
                catalogue = read_po(po, locale=code)
        else:
            catalogue = read_po(iter([b""]), locale=code, domain=template.domain)
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()
        catalogue.project, catalogue.version = "noemie-sim", ""
        catalogue.copyright_holder, catalogue.msgid_bugs_address = "the noemie-sim authors", ""
        catalogue.last_translator = catalogue.language_team = "the noemie-sim authors"
        catalogue.header_comment = (
            f"# The {code} messages of noemie-sim: written by hand, merged and compiled by\n"
            "# tools/catalogue.py (the .mo beside this file is its compiled form)."
        )
        catalogue.fuzzy = False  # a fuzzy header is left out of the .mo, plural rule included
        with path.open("wb") as po:
            write_po(po, catalogue, width=100, omit_header=False, include_previous=False)
        path.with_suffix(".mo").write_bytes(compiled(catalogue))
        missing = [m.id for m in catalogue if m.id and untranslated(m)]
        print(f"{path}: {len(catalogue)} messages, {len(missing)} to translate")
        for message in missing:
            print(f"  {message!r}")
