"""Facts a rewrite may not invent: each kind is recognised in the forms a model may rewrite it into."""

from __future__ import annotations

import pytest

from pipelines.facts import fact_text, source_facts, unsupported_fact

SOURCE = ("Der Bürgerservice am Engelplatz 1 (Teichgraben 5 für Rückfragen) ist unter +49 3641 49-3800 und "
          "https://www.Jena.de/Buergerservice/ erreichbar, per E-Mail an BS-Antrag@jena.de. Die Bescheinigung "
          "kostet 25,00 €, ab 1.000 Seiten 1 Million Euro. Am 12.03.2026 ist geschlossen, sonst Di 8–12 Uhr und "
          "Do 13:30 Uhr. Im Jahr 2012 gab es 12 Termine.")


@pytest.fixture(scope="module")
def sources():
    return source_facts([SOURCE])


def test_digits_of_every_script_and_invisible_marks_are_folded():
    assert fact_text("\u2066٠٩٠٠\u2069 ۱۲۳ 4\u200b5") == "0900 123 45"


@pytest.mark.parametrize("text", [
    "Rufen Sie 03641 493800 an [1].", "Telefon: 0049 (0) 3641 49 38 00", "Durchwahl 49-3800",
    "Schreiben Sie an bs-antrag@JENA.de.", "Siehe jena.de/buergerservice", "Siehe http://jena.de", "jena.de",
    "Sie kostet 25 Euro.", "Sie kostet EUR 25.", "Sie kostet ٢٥ يورو.", "Sie kostet 25 євро.", "1 Mio. €",
    "Am 12. März 2026 geschlossen.", "Closed on March 12, 2026.", "Закрито 12 березня 2026 р.", "am 2026-03-12",
    "ab März 2026", "Dienstag 8-12 Uhr", "Donnerstag 13.30 Uhr", "Engelplatz 1", "Im Jahr ۲۰۱۲.",
])
def test_a_fact_of_the_source_in_another_form_is_supported(sources, text):
    assert unsupported_fact(text, sources) is None


@pytest.mark.parametrize(("text", "reason"), [
    ("Hotline: 0900 123456", "phone number not in the sources"),
    ("Hotline: ۰۹۰۰ ۱۲۳۴۵۶", "phone number not in the sources"),
    ("Mehr unter https://jena-termine.example/buchen", "web address not in the sources"),
    ("Mehr unter jena.de/termine-express", "web address not in the sources"),
    ("Schreiben Sie an termin@jena-hilfe.de", "e-mail address not in the sources"),
    ("Sie kostet 15 €.", "amount not in the sources"),
    ("Sie kostet 12 €.", "amount not in the sources"),
    ("Am 19.03.2026 ist geschlossen.", "date not in the sources"),
    ("Am 12. April 2026 ist geschlossen.", "date not in the sources"),
    ("Donnerstag 14:30 Uhr", "time not in the sources"),
    ("Dienstag 8–13 Uhr", "range of numbers not in the sources"),
    ("Teichgraben 12", "street address not in the sources"),
    ("Die Bearbeitung dauert ٤٨ Stunden.", "number not in the sources"),
])
def test_an_invented_or_changed_fact_is_named_by_its_kind_only(sources, text, reason):
    assert unsupported_fact(text, sources) == reason
