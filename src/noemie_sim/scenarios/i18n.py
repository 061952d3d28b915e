"""The words people read, in French or in English.

Messages are written in English in the code, marked with ``lang._("...")`` or
``lang.n_("singular", "plural", n)`` (named ``{placeholders}``, filled after translation),
and translated in gettext catalogues: ``locale/fr/LC_MESSAGES/noemie_sim.po``, compiled to the
``.mo`` shipped beside it (tests/test_i18n.py checks that every message of the code is in the
catalogue, translated, and that the ``.mo`` is the compiled ``.po``). Plural forms follow each
language's rule (French: 0 and 1 are singular). Numbers, money and dates are written as the
language writes them, by Babel from the CLDR data: "1 234,56 €" and "lundi 2 mars" in French.

What is for programs stays as it is in every language: event kinds, codes, field names in
JSON, JUnit messages (CI tools read them).

To change a message: edit the code, then ``python tools/catalogue.py`` (extracts the messages
into the ``.po``, keeping the translations there; then write the French of the new ones, and
run it again to compile the ``.mo``).
"""

from __future__ import annotations

import gettext
import io
import json
import os
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.messages.catalog import Catalog, Message
from babel.numbers import format_currency, format_decimal, format_percent

DOMAIN = "noemie_sim"
#: the languages a person can read noemie-sim in; the first is the code's own
LANGUAGES = ("en", "fr")
#: the locale variables, the first set wins (POSIX: LC_ALL over LC_MESSAGES over LANG)
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")


def locale_folder() -> Path:
    """Where the catalogues are (``locale/<lang>/LC_MESSAGES/noemie_sim.mo``)."""
    return Path(str(resources.files("noemie_sim.scenarios") / "locale"))


def choose(asked: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The language to speak: ``asked`` (``--lang``) when given, else French for a French
    locale (``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` starting with ``fr``), else English.
    ValueError for a language there is no catalogue of."""
    if asked is not None:
        if asked not in LANGUAGES:
            raise ValueError(f"--lang: one of {', '.join(LANGUAGES)}, not {asked!r}")
        return asked
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


def said(text: str, **values: Any) -> dict[str, Any]:
    """A message to be read later, in the reader's language: its English ``text`` (a
    message of the catalogue: literal text here is extracted) and the values of its
    ``{placeholders}`` (strings, numbers, or messages of their own). Plain JSON, so that a
    report keeps it: :meth:`Language.say` writes it in a language, :func:`english` in the
    code's own."""
    return {"text": text, "values": values}


def english(words: Mapping[str, Any]) -> str:
    """``words`` (a :func:`said` message) in English, its placeholders filled."""
    return language(LANGUAGES[0]).say(words)


class Language:
    """One language: its messages, plural forms and formats."""

    def __init__(self, code: str) -> None:
        if code not in LANGUAGES:
            raise ValueError(f"no catalogue for {code!r}: {', '.join(LANGUAGES)}")
        self.code = code
        self._catalogue: gettext.NullTranslations = (
            gettext.NullTranslations()
            if code == LANGUAGES[0]
            else gettext.translation(DOMAIN, locale_folder(), [code])
        )

    def _(self, message: str, **values: object) -> str:
        """``message`` in this language, its ``{placeholders}`` filled with ``values``."""
        text = self._catalogue.gettext(message)
        return text.format(**values) if values else text

    def n_(self, singular: str, plural: str, count: int, **values: object) -> str:
        """The form of ``count`` in this language; ``{count}`` is filled too, in this
        language's way of writing numbers."""
        text = self._catalogue.ngettext(singular, plural, count)
        return text.format(count=self.number(count), **values)

    def say(self, words: Mapping[str, Any]) -> str:
        """``words`` (a :func:`said` message) in this language: its counts written as the
        language writes numbers, its other values as they are."""
        values = {k: self._value(v) for k, v in words["values"].items()}
        return self._(str(words["text"]), **values)

    def _value(self, value: Any) -> str:
        if isinstance(value, Mapping):
            return self.say(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.number(value)
        return str(value)

    def number(self, value: int | float) -> str:
        """A count or a value: "1 234" in French; in English as noemie-sim always wrote it
        ("1234", "0.25")."""
        if self.code == "en":
            return str(value) if isinstance(value, int) else f"{value:g}"
        return format_decimal(value, locale=self._babel)

    def decimal(self, value: float, digits: int = 1) -> str:
        """A number with ``digits`` decimals: "1,5" in French, "1.5" in English."""
        if self.code == "en":
            return f"{value:.{digits}f}"
        return format_decimal(round(value, digits), format=f"#,##0.{'0' * digits}",
                              locale=self._babel)  # fmt: skip

    def percent(self, share: float) -> str:
        """A share as a percentage with one decimal: "95.0%", "95,0 %"."""
        if self.code == "en":
            return f"{share:.1%}"
        return format_percent(share, format="#,##0.0 %", locale=self._babel)

    def money(self, cents: int) -> str:
        """An amount in cents as euros: "1 234,56 €" in French, "1 234.56 €" in English
        (the form noemie-sim's English reports always had)."""
        if self.code == "en":
            return f"{cents / 100:,.2f} €".replace(",", " ")
        return format_currency(Decimal(cents) / 100, "EUR", locale=self._babel)

    def day(self, day: date) -> str:
        """A day as a heading says it: "lundi 2 mars", "Monday 2 March"."""
        return format_date(day, "EEEE d MMMM", locale=self._babel)

    def date(self, day: date) -> str:
        """A date inside a sentence: "3 mars", "3 March"."""
        return format_date(day, "d MMMM", locale=self._babel)

    @property
    def _babel(self) -> str:
        return {"fr": "fr_FR", "en": "en_GB"}[self.code]


def catalogue_path(code: str) -> Path:
    """The ``.po`` of language ``code`` (its ``.mo`` is beside it)."""
    return locale_folder() / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def messages_in_code() -> Catalog:
    """Every message the code marks, in the scenarios package (``_`` and ``n_`` calls,
    ``H_`` for a help text of the command line, ``N_`` or ``said`` for a message translated
    where it is shown) and in the pages (the live page's ``{{...}}`` and ``tr("...")``, the
    report's ``rt("...")``), as a template catalogue."""
    from babel.messages.extract import extract_from_dir

    template = Catalog(domain=DOMAIN, project="noemie-sim", fuzzy=False)
    package = Path(str(resources.files("noemie_sim.scenarios")))
    keywords = {"_": None, "n_": (1, 2), "N_": None, "said": None, "H_": None}
    found = extract_from_dir(str(package), method_map=[("**.py", "python")],
                             keywords=keywords)  # fmt: skip
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)  # fmt: skip
    _static_messages(template)
    return template


def untranslated(message: Message) -> bool:
    """Whether a catalogue's message lacks a translation (one of its plural forms, or all)."""
    forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    return message.fuzzy or not all(forms)


#: a message of the live page's HTML: ``{{text}}`` (LANG and MESSAGES are the page's slots)
PAGE_MESSAGE = re.compile(r"\{\{(.+?)\}\}", re.S)
#: a message of a page's script: ``tr("text")`` (the live page's own) or ``rt("text")`` or
#: ``rt("text {name}", values)`` (the report's, report_charts.js)
SCRIPT_MESSAGE = re.compile(r'\b(?:tr|rt)\("((?:[^"\\]|\\.)*)"[,)]')
PAGE_SLOTS = ("LANG", "MESSAGES")


def page_messages(page: str) -> list[str]:
    """The messages of an HTML page (in ``{{...}}``), its slots excepted."""
    return [m for m in PAGE_MESSAGE.findall(page) if m not in PAGE_SLOTS]


def script_messages(script: str) -> list[str]:
    """The messages of a script (``tr("...")``, ``rt("...")``)."""
    return [json.loads(f'"{m}"') for m in SCRIPT_MESSAGE.findall(script)]


def _static_messages(template: Catalog) -> None:
    """The pages' messages, from the live page's HTML and script and the report's script,
    into ``template``."""
    package = resources.files("noemie_sim.scenarios")
    for name, found in (("web/static/live.html", page_messages),
                        ("web/static/live.js", script_messages),
                        ("reports/assets/report_charts.js", script_messages)):  # fmt: skip
        for message in found(package.joinpath(*name.split("/")).read_text("utf-8")):
            template.add(message, None, [(name, 0)])


def compiled(catalogue: Catalog) -> bytes:
    """The ``.mo`` of a catalogue, fuzzy entries left out."""
    from babel.messages.mofile import write_mo

    out = io.BytesIO()
    write_mo(out, catalogue)
    return out.getvalue()


@cache
def language(code: str) -> Language:
    """The language of ``code``, its catalogue read once."""
    return Language(code)
