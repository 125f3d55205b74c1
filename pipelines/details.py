"""What detail a question asks for (a fee, opening hours, documents …) and whether the sources give it.

A resident who asks "What does it cost?" and gets a description of the office has not been answered. The
answer builder uses these checks to say honestly that an answer is only partial: the responsible office is
known, the asked detail is not in the sources.
"""

from __future__ import annotations

import re

from pipelines.records import UnitRecord

#: Details a question can ask for, in the order an answer names them.
DETAILS = ("fee", "hours", "documents", "deadline", "phone", "email", "address")

# Word stems per detail, in every supported language; matched case-insensitively anywhere in the question.
# Kept specific on purpose: a plain "where" or "when" asks for a place or a step, not for an address or a date.
_CUES: dict[str, tuple[str, ...]] = {
    "fee": (
        "kostet", "kosten", "gebühr", "gebuehr", "preis", "bezahlen", "zahlen muss", "wie teuer", "€", "euro",
        "cost", "fee", "price", "how much", "pay for", "вартість", "скільки кошт", "скільки треба платити",
        "оплат", "ціна", "мито", "стоит", "стоимость", "сколько плат", "пошлин", "цена", "رسوم", "تكلفة",
        "كلفة", "بكم", "كم سعر", "كم يكلف", "قديش بكلف", "هزینه", "قیمت", "چقدر پول", "فیس", "ücret",
        "ne kadar tutar", "kaç para", "fiyat", "masraf", "harç", "coût", "coûte", "frais", "prix", "combien ça",
        "tarif",
    ),
    "hours": (
        "öffnungszeit", "oeffnungszeit", "geöffnet", "sprechzeit", "wann offen", "wann hat", "hat offen",
        "opening hours", "open on", "when is it open", "when does", "office hours", "години роботи",
        "графік роботи", "коли працює", "відчинен", "часы работы", "график работы", "когда работает", "открыт",
        "مواعيد الدوام", "ساعات العمل", "ساعات الدوام", "متى يفتح", "متى بيفتح", "ساعت کاری", "ساعات کاری",
        "چه ساعتی", "کی باز", "açılış", "çalışma saat", "açık mı", "kaçta açı", "mesai saat", "horaires",
        "heures d'ouverture", "ouvert le", "quand ouvre", "est ouvert",
    ),
    "documents": (
        "unterlagen", "dokumente", "mitbringen", "mitnehmen", "welche papiere", "nachweise", "documents",
        "paperwork", "papers", "what to bring", "need to bring", "документ", "що взяти", "що потрібно принести",
        "довідк", "что взять", "что нужно принести", "справк", "أوراق", "الاوراق", "وثائق", "مستندات",
        "شو لازم جيب", "مدارک", "اسناد", "چه چیزی ببرم", "belge", "evrak", "ne götürmem", "yanımda ne",
        "pièces", "papiers", "justificatif", "apporter",
    ),
    "deadline": (
        "frist", "bis wann", "wie lange dauert", "wie lange muss", "deadline", "how long does", "how long will",
        "by when", "until when", "строк", "до якого числа", "скільки чекати", "срок", "до какого числа",
        "сколько ждать", "مهلة", "آخر موعد", "قديش بياخد", "كم يستغرق", "مهلت", "تا کی", "چقدر طول",
        "son tarih", "ne kadar sürer", "ne kadar sürüyor", "délai", "jusqu'à quand", "combien de temps",
    ),
    "phone": (
        "telefon", "anrufen", "phone", "call them", "телефон", "подзвонити", "позвонить", "رقم الهاتف",
        "رقم تلفون", "تلفون", "هاتف", "تلفن", "شماره تماس", "زنگ بزنم", "numara", "aramak", "téléphone",
        "appeler",
    ),
    "email": ("e-mail", "email", "mail-adresse", "adresse mail", "courriel", "імейл", "електронн", "эл. почт",
              "электронн", "ایمیل", "بريد", "إيميل", "ايميل", "e-posta"),
    "address": ("adresse", "anschrift", "address", "located", "адрес", "عنوان", "آدرس", "نشانی", "adres"),
}
# Cues that must be whole words ("adresse" is not "m'adresser", "süre" is not "sürecindeyim").
_WHOLE_WORDS = {"adresse", "adres", "address", "адрес", "frist", "fee", "tarif", "prix", "frais"}


def _cue(cue: str) -> str:
    return rf"(?<!\w){re.escape(cue)}(?!\w)" if cue in _WHOLE_WORDS else re.escape(cue)


_PATTERNS = {detail: re.compile("|".join(_cue(c) for c in cues), re.IGNORECASE) for detail, cues in _CUES.items()}

#: Which facts or contact kinds of a service or procedure give a detail.
_GIVEN_BY_FACT = {"fee": ("fee", "cost", "costs"), "hours": ("hours",), "documents": ("documents",),
                  "deadline": ("deadline", "processing_time")}
_GIVEN_BY_CONTACT = {"hours": "hours", "phone": "phone", "email": "email", "address": "address"}


def asked_details(question: str) -> list[str]:
    """The details a question asks for (see :data:`DETAILS`), in that order. An e-mail address is not also
    a postal address ("e-posta adresi", "adresse mail")."""
    asked = [d for d in DETAILS if _PATTERNS[d].search(question)]
    if "email" in asked and "address" in asked:
        asked.remove("address")
    return asked


def gives(record: UnitRecord, detail: str) -> bool:
    """True when the record's sourced facts or contact give this detail, and not only as possibly outdated."""
    if any(f in record.fact_fields for f in _GIVEN_BY_FACT.get(detail, ())):
        return True
    kind = _GIVEN_BY_CONTACT.get(detail)
    return bool(kind and any(not item.get("dated") for item in record.contact.get(kind) or []))


def missing_details(question: str, records: list[UnitRecord]) -> list[str]:
    """The details the question asks for that none of ``records`` (the lead unit and its contacts) gives."""
    return [d for d in asked_details(question) if not any(gives(r, d) for r in records)]
