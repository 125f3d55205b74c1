"""Which detail a question asks for, in every language, and whether a record gives it."""

from __future__ import annotations

import pytest

from pipelines.details import asked_details, gives, missing_details
from pipelines.records import UnitRecord


@pytest.mark.parametrize(("question", "details"), [
    ("Was kostet die Verlängerung des Aufenthaltstitels?", ["fee"]),
    ("When does the Ausländerbehörde open on Thursdays?", ["hours"]),
    ("Які документи потрібні для прописки?", ["documents"]),
    ("Сколько стоит интеграционный курс?", ["fee"]),
    ("شو رقم الهاتف تبع مكتب الديون؟", ["phone"]),
    ("آدرس دفتر ضد تبعیض کجاست؟", ["address"]),
    ("jenarbeit perşembe günleri saat kaçta açılıyor, çalışma saatleri?", ["hours"]),
    ("Quelle est l'adresse mail de la Refugee Law Clinic ?", ["email"]),
    ("e-posta adresine yazabilir miyim?", ["email"]),
    # Not a detail: a place to go, a way to register, "almost", an ongoing procedure.
    ("Wo kann ich Deutsch lernen?", []),
    ("Je voudrais m'adresser à quelqu'un pour une discrimination", []),
    ("почти месяц жду ответа", []),
    ("İltica sürecindeyim, hukuki danışmanlık nerede?", []),
    ("Ist die Beratung kostenlos?", ["fee"]),
])
def test_asked_details(question: str, details: list[str]) -> None:
    assert asked_details(question) == details


def _record(**extra) -> UnitRecord:
    return UnitRecord(id="svc/x", kind="service", title="X", section="", url="", source="", as_of="", text_de="",
                      **extra)


def test_an_outdated_contact_or_fact_does_not_count_as_given() -> None:
    dated = _record(contact={"hours": [{"value": "Mo 9–12", "source": "s", "as_of": None, "dated": True}]})
    current = _record(contact={"hours": [{"value": "Mo 9–12", "source": "s", "as_of": None}]})
    assert not gives(dated, "hours") and gives(current, "hours")
    assert gives(_record(fact_fields=("fee",)), "fee")
    assert missing_details("Was kostet das?", [_record(), _record(fact_fields=("fee",))]) == []
    assert missing_details("Was kostet das?", [_record()]) == ["fee"]
