"""Long units are answered by the lines that answer the question, cited by those lines; restrictions stay.

The records are the registration procedure and a short measure as the corpus has them (German text of record,
Einfache Sprache, translations that keep its paragraphs), cut to what the tests need.
"""

from __future__ import annotations

import re

import pytest

from pipelines.bidi import strip_isolates
from pipelines.compose import Question, compose_answer
from pipelines.evidence import align_record_lines, is_long, select_quote
from pipelines.records import UnitRecord

TEXT_DE = "\n".join([
    "Wohnung anmelden.",
    "Nach dem Einzug in eine Wohnung in Jena müssen Sie sich innerhalb von zwei Wochen beim Bürgerservice "
    "anmelden.",
    "Für die Anmeldung vereinbaren Sie vorher online einen Termin. Zu Semesterbeginn sind Termine oft knapp.",
    "Sie müssen die Wohnungsgeberbestätigung Ihres Vermieters vorlegen. Der Mietvertrag allein reicht nicht aus.",
    "Eine Seite der Hochschule EAH Jena nennt für die Anmeldung: Reisepass oder Ausweis, Mietvertrag und "
    "Wohnungsgeberbestätigung.",
    "Nach der Anmeldung bekommen Sie eine Meldebescheinigung. Ihre Steuer-Identifikationsnummer wird Ihnen danach "
    "automatisch per Post geschickt.",
    "Wer in Deutschland nur eine Wohnung hat, hat nach dem Melderecht eine „alleinige Wohnung“; sie wird rechtlich "
    "wie eine Hauptwohnung behandelt. Auch eine Nebenwohnung muss angemeldet werden.",
    "Die Seite der Stadt zur Anmeldung gibt es auch auf Niederländisch; dort ist ein Teil des Textes aber weiter "
    "auf Deutsch.",
])
SIMPLE = """Sie ziehen in eine Wohnung in Jena?
Dann müssen Sie sich beim Bürgerservice anmelden.
Das müssen Sie innerhalb von 2 Wochen nach dem Einzug machen.

Machen Sie vorher online einen Termin.
Am Anfang vom Semester gibt es oft wenige Termine.

Sie brauchen die Wohnungsgeberbestätigung von Ihrem Vermieter.
Der Mietvertrag allein reicht nicht.
Die Hochschule EAH Jena nennt diese Unterlagen:
- Reisepass oder Ausweis
- Mietvertrag
- Wohnungsgeberbestätigung

Nach der Anmeldung bekommen Sie eine Meldebescheinigung.
Danach kommt Ihre Steuer-Identifikationsnummer automatisch mit der Post.

Sie haben in Deutschland nur eine Wohnung?
Dann heißt sie „alleinige Wohnung“.
Auch eine Nebenwohnung müssen Sie anmelden.

Die Seite der Stadt gibt es auch auf Niederländisch."""
UK = """Ви заселяєтеся в житло в Єні?
Тоді ви повинні зареєструватися в Bürgerservice (служба обслуговування громадян).
Це потрібно зробити протягом 2 тижнів після заселення.

Заздалегідь запишіться на прийом (Termin) онлайн.
На початку семестру вільних термінів часто мало.

Вам потрібне підтвердження надавача житла (Wohnungsgeberbestätigung) від вашого орендодавця.
Самого лише договору оренди недостатньо.
Вища школа EAH Jena називає такі документи:
- закордонний паспорт або посвідчення особи
- договір оренди (Mietvertrag)
- Wohnungsgeberbestätigung

Після реєстрації ви отримаєте довідку про реєстрацію (Meldebescheinigung).
Після цього ваш податковий ідентифікаційний номер надійде поштою.

У вас у Німеччині лише одне житло?
Тоді воно називається «єдине житло» (alleinige Wohnung).
Друге місце проживання (Nebenwohnung) ви також повинні зареєструвати.

Сторінка міста є також нідерландською мовою."""
EN = """Are you moving into a flat or house in Jena?
Then you must register at the Bürgerservice (Citizens’ Service).
You must do this within 2 weeks after moving in.

Make an appointment online beforehand.
At the start of the semester, there are often few appointments.

You need the confirmation from your landlord (Wohnungsgeberbestätigung).
The rental contract alone is not enough.
The university Hochschule EAH Jena names these documents:
- passport or identity card
- rental contract
- Wohnungsgeberbestätigung

After registering, you get a certificate of registration (Meldebescheinigung).
After that, your tax identification number comes automatically by post.

Do you have only one home in Germany?
Then it is called “alleinige Wohnung” (sole residence).
You must also register a secondary home (Nebenwohnung).

The city’s page is also available in Dutch."""
AR = """هل تنتقل إلى سكن في ينا؟
عندها يجب عليك تسجيل نفسك لدى Bürgerservice (خدمة المواطنين).
ويجب أن تفعل ذلك خلال أسبوعين (2) من الانتقال إلى السكن.

احجز موعدًا عبر الإنترنت مسبقًا.
في بداية الفصل الدراسي تكون المواعيد المتاحة قليلة في أغلب الأحيان.

تحتاج إلى تأكيد مؤجّر السكن (Wohnungsgeberbestätigung) من صاحب السكن.
عقد الإيجار وحده لا يكفي.
تذكر الجامعة Hochschule EAH Jena الوثائق التالية:
- جواز السفر أو بطاقة الهوية
- عقد الإيجار
- تأكيد مؤجّر السكن (Wohnungsgeberbestätigung)

بعد التسجيل تحصل على شهادة التسجيل (Meldebescheinigung).
بعد ذلك يصلك رقم التعريف الضريبي بالبريد تلقائيًا.

هل لديك سكن واحد فقط في ألمانيا؟
عندها يُسمّى «السكن الوحيد» (alleinige Wohnung).
يجب عليك أيضًا تسجيل السكن الثانوي (Nebenwohnung).

صفحة المدينة متوفرة أيضًا باللغة الهولندية."""

PHONE = {"value": "03641 49-3800", "source": "https://example.org/bs", "as_of": "2025-03"}
SERVICE = UnitRecord(id="svc/buergerservice", kind="service", title="Bürgerservice", section="Dienste", url="/s/bs",
                     source="src", as_of="2025", text_de="Bürgerservice.\nDer Bürgerservice meldet Wohnungen an.",
                     contact={"phone": [PHONE]}, fact_fields=("about",))
REGISTRATION = UnitRecord(
    id="proc/wohnung-anmelden", kind="procedure", title="Wohnung anmelden", section="Verfahren › Wohnung anmelden",
    url="/sources/procedures#proc-wohnung-anmelden", source="Verfahren", as_of="2025", text_de=TEXT_DE,
    texts={"de": TEXT_DE, "de-simple": SIMPLE, "uk": UK, "en": EN, "ar": AR},
    titles={"de": "Wohnung anmelden", "uk": "Реєстрація місця проживання", "en": "Registering your home",
            "ar": "تسجيل السكن"},
    short_name="Anmeldung", responsible=("svc/buergerservice",), fact_fields=("deadline", "appointment", "documents"))
MEASURE = UnitRecord(id="ik/2.1/z4/m1", kind="measure", title="Sprachmittlung", section="2.1", url="/s/ik",
                     source="IK", as_of="2024", text_de="Alle Stellen mit Kundenkontakt nutzen Sprachmittlung.\n"
                     "Verantwortung: Büro für Migration und Integration\nTermin: fortlaufend",
                     texts={"de-simple": "Alle Ämter sollen Sprachmittlung nutzen.\n\nDas ist eine Daueraufgabe."},
                     termin="fortlaufend")
RELATED = {r.id: r for r in (SERVICE, REGISTRATION, MEASURE)}
#: Lines of TEXT_DE that name the documents to bring.
DOCUMENT_LINES = {3, 4}
DOCUMENTS_QUESTIONS = {
    "de": "Welche Unterlagen brauche ich für die Anmeldung?",
    "uk": "Які документи потрібні для реєстрації житла?",
    "ar": "ما هي الأوراق التي أحتاجها لتسجيل السكن؟",
    "en": "What documents do I need to register my flat?",
}


def ask(text: str, language: str, ranked: list[UnitRecord] | None = None, **kwargs) -> dict:
    question = Question(text=text, language=language, asker_language=language, detected_language=language,
                        answerable=True, **kwargs)
    ranked = ranked or [REGISTRATION, SERVICE]
    answer = compose_answer(question, ranked, [0.9, 0.5][: len(ranked)], RELATED).to_dict()
    # Right-to-left answers wrap Latin names in isolates; the tests compare the words.
    return {**answer, "answer": strip_isolates(answer["answer"])}


def strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", text)


@pytest.mark.parametrize("language", list(DOCUMENTS_QUESTIONS))
def test_a_documents_question_quotes_and_cites_the_documents_lines(language: str) -> None:
    answer = ask(DOCUMENTS_QUESTIONS[language], language)
    shown = {"de": SIMPLE, "uk": UK, "en": EN, "ar": AR}[language].split("\n")
    # The documents paragraph is in the answer, in the asker's language, line by line.
    for line in shown[7:13]:
        assert line in answer["answer"], line
    # … and the paragraphs that do not answer are not ("Meldebescheinigung", "Niederländisch").
    assert shown[14] not in answer["answer"] and shown[-1] not in answer["answer"]
    lead = next(c for c in answer["citations"] if c["id"] == "proc/wohnung-anmelden")
    quote = lead["quote"]
    assert DOCUMENT_LINES <= set(quote["lines"])
    lines = TEXT_DE.split("\n")
    assert quote["text"] == "\n".join(lines[i] for i in quote["lines"])
    assert quote["url"].startswith("/sources/procedures?unit=proc-wohnung-anmelden&lines=")
    assert quote["url"].endswith("#proc-wohnung-anmelden")
    if language == "de":
        assert quote["text_translated"] is None
    else:
        assert shown[7] in quote["text_translated"] and shown[14] not in quote["text_translated"]
    # The German answer for the counter quotes the same paragraphs.
    assert "Die Hochschule EAH Jena nennt diese Unterlagen:" in answer["answer_de"]


@pytest.mark.parametrize("language", list(DOCUMENTS_QUESTIONS))
def test_restrictions_of_a_quoted_unit_survive_and_contacts_stay_first(language: str) -> None:
    answer = ask(DOCUMENTS_QUESTIONS[language], language)
    shown = {"de": SIMPLE, "uk": UK, "en": EN, "ar": AR}[language].split("\n")
    # the deadline (with the lines it leans on) and the appointment are restrictions: never cut
    for line in (shown[0], shown[1], shown[2], shown[4]):
        assert line in answer["answer"], line
    assert answer["contacts"][0]["id"] == "svc/buergerservice"
    text = strip_markers(answer["answer"])
    assert text.index(shown[4]) < text.index(shown[7])  # in the order of the source


def test_a_general_question_keeps_the_first_paragraph_without_a_quote() -> None:
    answer = ask("Wie melde ich meine Wohnung an?", "de")
    assert answer["answer"].startswith("Sie ziehen in eine Wohnung in Jena?")
    assert all(c.get("quote") is None for c in answer["citations"])


def test_a_short_unit_is_never_quoted() -> None:
    assert not is_long(MEASURE) and not is_long(SERVICE)
    assert select_quote("Welche Unterlagen brauche ich für Sprachmittlung?", "de", MEASURE) is None
    answer = ask("Welche Unterlagen brauche ich für die Sprachmittlung?", "de", [MEASURE])
    assert all(c.get("quote") is None for c in answer["citations"])


def test_simple_mode_shows_the_whole_text_not_a_quote() -> None:
    answer = ask(DOCUMENTS_QUESTIONS["de"], "de", simple=True)
    assert "Die Seite der Stadt gibt es auch auf Niederländisch." in answer["answer"]
    assert all(c.get("quote") is None for c in answer["citations"])


def test_each_line_of_record_belongs_to_the_simple_paragraph_that_says_it() -> None:
    assert align_record_lines(REGISTRATION) == [None, 0, 1, 2, 2, 3, 4, 5]


def test_an_answer_composed_in_english_for_another_language_quotes_no_english_as_its_translation() -> None:
    question = Question(text=DOCUMENTS_QUESTIONS["en"], language="en", asker_language="sw", detected_language="sw",
                        answerable=True)
    answer = compose_answer(question, [REGISTRATION, SERVICE], [0.9, 0.5], RELATED).to_dict()
    quote = answer["citations"][0]["quote"]
    assert DOCUMENT_LINES <= set(quote["lines"]) and quote["text_translated"] is None


def test_a_caveat_line_is_kept_with_the_line_it_qualifies() -> None:
    simple = SIMPLE.replace("Am Anfang vom Semester gibt es oft wenige Termine.",
                            "Am Anfang vom Semester gibt es oft wenige Termine.\n(Diese Angabe ist möglicherweise "
                            "veraltet.)")
    texts = {"de": TEXT_DE, "de-simple": simple}
    record = UnitRecord(**{**REGISTRATION.__dict__, "texts": texts})
    quote = select_quote(DOCUMENTS_QUESTIONS["de"], "de", record)
    assert quote is not None
    shown = quote.shown("de")
    caveat = shown.index("(Diese Angabe ist möglicherweise veraltet.)")
    assert shown[caveat - 1] == "Am Anfang vom Semester gibt es oft wenige Termine."


def test_a_unit_that_never_names_what_the_question_asks_about_is_not_quoted() -> None:
    # A wrongly ranked lead stays as it was (first paragraph) rather than being quoted as the answer.
    assert select_quote("Які документи потрібні, щоб отримати WBS в Єні?", "uk", REGISTRATION) is None
    assert select_quote("Welche Unterlagen brauche ich für den WBS?", "de", REGISTRATION) is None
    assert select_quote("Які документи потрібні для Wohnungsgeberbestätigung?", "uk", REGISTRATION) is not None
