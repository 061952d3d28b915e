"""French first, English too: every message of the code in the catalogue, translated and
compiled; plural forms and French formats; every kind of event the network can journal told
in both languages; a French demo told in French."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from noemie_sim.scenarios.cli import main
from noemie_sim.scenarios.i18n import (
    catalogue_path,
    choose,
    compiled,
    language,
    messages_in_code,
    untranslated,
)
from noemie_sim.scenarios.reports.narration import SENTENCES, Narrator, in_story
from noemie_sim.sim.journal import open_journal

SOURCE = Path(__file__).resolve().parent.parent / "src" / "noemie_sim"
#: kinds journaled under a name the code builds (network._hub_event: the hubs' own events)
BUILT_KINDS = {"file-fetched", "file-removed", "login-refused", "confinement",
               "sessions-closed", "checkpoint"}  # fmt: skip


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_of_the_code_is_translated_and_compiled() -> None:
    in_code = messages_in_code()
    with catalogue_path("fr").open("rb") as po:
        french = read_po(po, locale="fr")
    assert {m.id for m in in_code if m.id} == {m.id for m in french if m.id}, (
        "run python tools/catalogue.py"
    )
    for message in french:
        if not message.id:
            continue
        assert not untranslated(message), message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(_fields(str(form)) == _fields(str(ids[0])) for form in forms), message.id
    shipped = catalogue_path("fr").with_suffix(".mo").read_bytes()
    assert shipped == compiled(french), "the .mo is not the compiled .po: python tools/catalogue.py"


def test_plural_forms_numbers_money_and_dates() -> None:
    fr, en = language("fr"), language("en")
    forms = ("{who} receives {count} décompte from {caisse}",
             "{who} receives {count} décomptes from {caisse}")  # fmt: skip
    told = [fr.n_(*forms, n, who="Mutuelle Bleue", caisse="CPAM Paris") for n in (0, 1, 3, 1234)]
    assert told == [
        "Mutuelle Bleue reçoit 0 décompte de CPAM Paris",
        "Mutuelle Bleue reçoit 1 décompte de CPAM Paris",
        "Mutuelle Bleue reçoit 3 décomptes de CPAM Paris",
        "Mutuelle Bleue reçoit 1\u202f234 décomptes de CPAM Paris",
    ]
    assert en.n_(*forms, 1, who="A", caisse="B") == "A receives 1 décompte from B"
    assert en.n_(*forms, 0, who="A", caisse="B") == "A receives 0 décomptes from B"
    assert fr.money(123456) == "1\u202f234,56\xa0€" and en.money(123456) == "1 234.56 €"
    from datetime import date

    assert fr.day(date(2026, 3, 2)) == "lundi 2 mars"
    assert en.day(date(2026, 3, 2)) == "Monday 2 March"


def test_the_language_is_asked_or_the_locale_s() -> None:
    assert choose("fr", {}) == "fr" and choose("en", {"LANG": "fr_FR.UTF-8"}) == "en"
    assert choose(None, {"LANG": "fr_FR.UTF-8"}) == "fr"
    assert choose(None, {"LANG": "fr_FR.UTF-8", "LC_ALL": "C"}) == "en"  # LC_ALL first
    assert choose(None, {"LC_MESSAGES": "fr_CA.UTF-8", "LANG": "en_US"}) == "fr"
    assert choose(None, {}) == "en"
    with pytest.raises(ValueError, match="de"):
        choose("de", {})


def test_the_help_in_french(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--help`` in the asked language, or the locale's: argparse's own words too; the
    commands' names, options and metavars stay as they are."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    for variable in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(SystemExit) as ended:
        main(["demo", "--lang", "fr", "--help"])
    assert ended.value.code == 0
    french = capsys.readouterr().out
    for said in ("usage\u00a0: noemie-sim demo", "afficher cette aide et quitter",
                 "dossier de la simulation", "page en direct et API HTTP", "--paused",
                 "3600, sa semaine"):  # fmt: skip
        assert said in french, said
    assert "show this help" not in french and "run folder" not in french
    with pytest.raises(SystemExit):
        main(["--help"])
    english = capsys.readouterr().out
    assert "usage: noemie-sim" in english and "a small network, narrated" in english
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")  # a French locale: French without --lang
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert "simule le réseau" in listed and "un petit réseau, raconté" in listed
    assert "jouer un scénario et juger ses délais" in listed


def _journaled_kinds() -> set[str]:
    """Every literal kind the code journals: ``x.log("kind", ...)``,
    ``x.record(actor, "kind", ...)``."""
    kinds = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            position = {"log": 0, "record": 1}.get(node.func.attr)
            if position is None or len(node.args) <= position:
                continue
            kind = node.args[position]
            if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                kinds.add(kind.value)
    return kinds


def test_every_kind_of_event_has_its_sentence() -> None:
    kinds = _journaled_kinds()
    assert len(kinds) > 50  # the scan finds the journal's calls
    assert kinds | BUILT_KINDS <= set(SENTENCES), sorted(kinds | BUILT_KINDS - set(SENTENCES))


@pytest.mark.parametrize("scenario", ["demo", "cpam-outage"])
def test_every_event_of_a_run_told_in_both_languages(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each event of a run has a sentence in French and in English, naming people and
    organisations; the French story of ``demo --lang fr`` is in French."""
    run = tmp_path / "run"
    command = ["demo"] if scenario == "demo" else ["run", scenario]
    assert main([*command, "--lang", "fr", "--out", str(run)]) in (0, 1)
    printed = capsys.readouterr().out
    journal = open_journal(run)
    events = list(journal.events())
    journal.db.close()
    french, english = Narrator(lang=language("fr")), Narrator(lang=language("en"))
    for narrator in (french, english):
        narrator.names = {"017510000": "CPAM Paris"}
    told = {e.kind for e in events}
    assert told <= set(SENTENCES)
    for e in events:
        fr, en = french.sentence(e), english.sentence(e)
        assert fr and en and e.kind not in fr, (e.kind, fr)
        if in_story(e):
            assert fr != en, (e.kind, fr)
    if scenario == "demo":
        for said in ("accuse réception du lot", "ARL négatif", "retour NOEMIE",
                     "les décomptes du jour", "lundi 2 mars", "€", "Délais (temps simulé)",
                     "Montants (rapprochés par facture)", "code de sortie 0",
                     "rapport HTML"):  # fmt: skip
            assert said in printed, said
        # the guided tour's chapters head the story, each once, in order
        numbers = [int(line.split()[1]) for line in printed.splitlines()
                   if line.startswith("Chapitre ")]  # fmt: skip
        assert numbers == list(range(1, 9)), numbers
        assert "Chapitre 1\u00a0: Le lot est envoyé" in printed
        for english_words in (
            "acknowledges",
            "sends a lot",
            "negative ARL",
            "Monday",
            "what moved",
            "Delays",
            "Money",
            "exit 0",
            "HTML report",
        ):
            assert english_words not in printed, english_words
