"""Personal data removed from a free-text question, in the eight supported languages (pseudonymisation).

``remove_personal_data(text)`` replaces, in de, en, uk, ru, ar, fa, tr and fr text alike:

* e-mail addresses, also spelled out ("max dot mueller at gmx dot de", "анна собака mail точка ру",
  "jean point dupont arobase orange point fr", "reza at yahoo دات com") and handles ("@anna_m") → ``[email]``
* web addresses and bare domains ("example.org/akte") → ``[url]``
* IBANs → ``[iban]``; dates ("12.03.1985", "3. Mai 1990", "May 3, 1990", "٣ مايو ١٩٩٠") → ``[date]``
* file numbers after a keyword ("Az. 123/45", "AZ: B-2023-4711", "номер справи …", "dosya no: …",
  "numéro de dossier …", "رقم الملف …", "شماره پرونده …"), phone numbers, and every token holding three or
  more digits (Arabic-Indic and Persian digits count) → ``[number]``
* street addresses: German street names with a house number ("Goethestraße 12", "Lutherstr. 5",
  "Löbdergraben 12", "Am Anger 4", "5 Carl-Zeiss-Platz"), any "…straße" even without one, street words of
  the other languages with a number ("вулиця Шевченка 12", "ул. Ленина 5", "شارع غوته ١٢",
  "خیابان گوته پلاک ۱۲", "Goethe Caddesi 12", "12 rue Lessing"), and what follows "Adresse:"/"address"/
  "адрес"/"adresim"/"عنوان"/"آدرس" up to a house number → ``[address]``
* names after an introduction ("ich heiße", "mein Name ist", "my name is", "I am"/"I'm" + capitalised words,
  "меня зовут", "мене звати", "je m'appelle", "je suis" + capitalised words, "benim adım", "adım" at the
  start of a clause, "اسمي", "اسم من … است", "من … هستم"), after a title ("Frau Müller", "Mr Smith",
  "пан Петренко", "السيد …", "آقای …", "Ayşe Hanım") and after a sign-off ("Viele Grüße, Anna") → ``[name]``

Where it cannot tell, it removes too much rather than too little (up to three words after an introduction).

What can remain, so the result is *pseudonymised*, not anonymous: names that no phrase or title introduces
("Ich bin Anna" stays: German capitalises every noun, so a capitalised word is not a name; "Termin bei Anna"
stays), street names without a house number (except "…straße"), districts and towns, one- and two-digit
numbers (ages, number of children, school years), nationality and other details a person tells about
themselves in their own words.
"""

from __future__ import annotations

import re
import unicodedata

EMAIL = "[email]"
URL = "[url]"
IBAN = "[iban]"
DATE = "[date]"
NUMBER = "[number]"
ADDRESS = "[address]"
NAME = "[name]"

# A word with no punctuation or digits in it: the pieces of names and street names.
_WORD = r"[^\s\d,.;:!?()\[\]{}\"“”„«»،؛؟]+"
# Any token without sentence punctuation (names may come lowercase or with digits in chat).
_TOKEN = r"[^\s,.;:!?()\[\]{}\"“”„«»،؛؟]+"

# --- e-mail addresses, web addresses -------------------------------------------------------------------------
_TLDS_LATIN = r"de|com|org|net|eu|info|ru|ua|fr|tr|ir|at|ch|io|uk|edu|gov|biz|online"
# Top-level domains as they are said in Cyrillic and Arabic script ("точка ру", "نقطة كوم").
_TLDS_SPOKEN = r"ру|ком|нет|орг|де|юа|укр|كوم|کام|دي|دی|نت|ارگ"
_AT = (r"(?:\s?[@＠]\s?|\s*[(\[{]\s*(?:at|ät)\s*[)\]}]\s*"
       r"|\s+(?:at|ät|arobase|arroba|собака|собачка|равлик|эт|ет|ат|آت|أت|ات)\s+)")
_DOT = (r"(?:\s?\.\s?|\s*[(\[{]\s*(?:dot|punkt|point)\s*[)\]}]\s*"
        r"|\s+(?:dot|punkt|point|nokta|точка|крапка|дот|نقطة|نقطه|دات|دوت)\s+)")
_PART = r"[\w+-]+"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w+-]){_PART}(?:{_DOT}{_PART})*{_AT}{_PART}(?:{_DOT}{_PART})*?{_DOT}(?:{_TLDS_LATIN}|{_TLDS_SPOKEN})(?![\w-])",
    re.IGNORECASE)
_EMAIL = re.compile(r"(?<!\S)\S+\s?[@＠]\s?\S+|(?<![\w\]])@\w+")
_URL = re.compile(rf"(?:https?://|www\.)\S+|(?<![\w.-])[\w-]+(?:\.[\w-]+)*\.(?:{_TLDS_LATIN})\b(?:/\S*)?",
                  re.IGNORECASE)

# --- IBANs and dates -----------------------------------------------------------------------------------------
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b")
_MONTHS = (
    r"januar|jänner|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember"
    r"|jan|feb|mär|mar|apr|jun|jul|aug|sep|sept|okt|oct|nov|dez|dec"
    r"|january|february|march|may|june|july|october|december"
    r"|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre"
    r"|ocak|şubat|mart|nisan|mayıs|haziran|temmuz|ağustos|eylül|ekim|kasım|aralık"
    r"|января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
    r"|январь|февраль|март|апрель|май|июнь|июль|август|сентябрь|октябрь|ноябрь|декабрь"
    r"|січня|лютого|березня|квітня|травня|червня|липня|серпня|вересня|жовтня|листопада|грудня"
    r"|يناير|فبراير|مارس|أبريل|ابريل|مايو|يونيو|يوليو|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|نوفمبر|ديسمبر"
    r"|كانون الثاني|شباط|آذار|نيسان|أيار|حزيران|تموز|آب|أيلول|تشرين الأول|تشرين الثاني|كانون الأول"
    r"|ژانویه|فوریه|آوریل|مه|ژوئن|ژوئیه|اوت|سپتامبر|اکتبر|نوامبر|دسامبر"
    r"|فروردین|اردیبهشت|خرداد|تیر|مرداد|شهریور|مهر|آبان|آذر|دی|بهمن|اسفند"
)
_DATES = re.compile(
    rf"\b\d{{1,2}}\s?[./-]\s?\d{{1,2}}\s?[./-]\s?\d{{2,4}}\b|\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b"
    rf"|\b\d{{1,2}}\.?\s*(?:of\s+)?(?:{_MONTHS})\.?,?\s+\d{{2,4}}\b|\b(?:{_MONTHS})\.?\s+\d{{1,2}},?\s+\d{{4}}\b",
    re.IGNORECASE)
# A birthday without the year ("geboren am 3. Mai") still narrows a person down.
_BIRTH = (r"geboren|geb\.|geburtsdatum|geburtstag|born|birthday|date\s+of\s+birth|née?|naissance"
          r"|doğum\s+tarihi[mn]?|doğdum|родился|родилась|дата\s+рождения|день\s+рождения|народився|народилася"
          r"|дата\s+народження|день\s+народження|تاريخ\s+الميلاد|تاريخ\s+ميلادي|ولدت|مواليد|تاریخ\s+تولد|متولد")
_BIRTHDAY = re.compile(
    rf"\b(?P<lead>(?:{_BIRTH})(?:\s+(?:am|on|the|le|den|in|im|en))?\s*:?\s*)"
    rf"(?:\d{{1,2}}\.?\s*(?:of\s+)?(?:{_MONTHS})\b\.?|(?:{_MONTHS})\s+\d{{1,2}}\b)", re.IGNORECASE)

# --- file numbers --------------------------------------------------------------------------------------------
_FILE_KEYWORDS = (
    r"aktenzeichen|az[.:]|(?-i:AZ)|gz\.|geschäftszeichen|kassenzeichen|vorgangsnummer|vorgangs-nr\.?|kundennummer"
    r"|kunden-nr\.?|bg-nummer|bg-nr\.?|bedarfsgemeinschaftsnummer|fallnummer|antragsnummer|steuer-id"
    r"|steuernummer|steuer-nr\.?|identifikationsnummer|versicherungsnummer|sozialversicherungsnummer"
    r"|rentenversicherungsnummer|ausweisnummer|passnummer|reisepassnummer|nummer|nr\."
    r"|file\s+(?:no\.?|number)|case\s+(?:no\.?|number)|reference(?:\s+number)?|ref\.|customer\s+number"
    r"|passport\s+number|id\s+number|number|no\."
    r"|номер\s+справи|номер\s+дела|номер|№"
    r"|dosya\s+(?:no|numarası|numaram)|kimlik\s+no|numaram|numarası|numara"
    r"|numéro\s+de\s+dossier|numéro|n°|réf\.?|référence"
    r"|رقم\s+الملف|رقم\s+القضية|رقم\s+ملفي|رقم|شماره\s+پرونده|شماره"
)
_FILE_NUMBER = re.compile(
    rf"(?<!\w)(?P<lead>(?:{_FILE_KEYWORDS})(?:\s+(?:ist|is|est|lautet|:))?[\s.:#№-]*)(?=[\w/.-]*\d)[\w/.-]*\w",
    re.IGNORECASE)

# --- street addresses ----------------------------------------------------------------------------------------
_HOUSE = r"\d{1,4}(?:\s?[-–/]\s?\d{1,4})?(?:\s?[a-zA-Z]\b)?(?!\d)"
# German compound street names (and their Cyrillic/Arabic transliterations) end in one of these. The name must
# start with a capital letter, so that "during 3 months" or "total 300" do not look like streets.
_STREET_SUFFIX = (r"straße|strasse|str\.|gasse|weg|platz|allee|graben|damm|ufer|markt|steig|berg|chaussee|pfad"
                  r"|promenade|anger|park|gärten|siedlung|leite|steg|winkel"
                  r"|штрассе|штрасе|штр\.|грабен|вег|плац|аллее|алее|гассе|берг|شتراسه|شتراسة|اشتراسه")
_CAPITAL = r"(?-i:[A-ZÄÖÜА-ЯЁІЇЄҐ])"
_COMPOUND_STREET = re.compile(
    rf"\b\d{{1,4}}[a-z]?,?\s+{_CAPITAL}[\w-]*?(?:{_STREET_SUFFIX})(?!\w)(?:\s*,?\s*{_HOUSE})?"
    rf"|\b{_CAPITAL}[\w-]*?(?:{_STREET_SUFFIX})\s*,?\s*{_HOUSE}"
    rf"|\b[\w-]{{2,}}(?:(?:straße|strasse|штрассе|штрасе)\b|str\.)|(?:شتراسه|شتراسة|اشتراسه)", re.IGNORECASE)
# Street words of all eight languages that stand apart from the name ("Kahlaische Straße 7", "rue Lessing").
_STREET_WORD = (r"straße|strasse|str\.|allee|gasse|street|st\.|road|rd\.|avenue|ave\.|lane"
                r"|rue|av\.|boulevard|bd\.?|place|chemin|allée|impasse|quai"
                r"|caddesi|cad\.|cd\.|sokak|sokağı|sok\.|sk\.|bulvarı|mahallesi|mah\."
                r"|вулиця|вулиці|вулицю|вулицею|вул\.|проспект|просп\.|провулок|пров\.|площа|площі|бульвар"
                r"|улица|улице|улицу|улицы|ул\.|пр-т|переулок|пер\.|площадь"
                r"|شارع|الشارع|بشارع|ساحة|خیابان|خيابان|کوچه|كوچه|میدان|بلوار|پلاک")
_STREET_WITH_NUMBER = re.compile(
    rf"(?:\b{_WORD}\s+)?(?<!\w)(?:{_STREET_WORD})(?!\w)\s*,?\s*(?:{_WORD}\s*,?\s+){{0,3}}?{_HOUSE}"
    rf"|\b\d{{1,4}}(?:\s?(?:bis|ter|[a-z]))?,?\s+(?:{_STREET_WORD})(?!\w)(?:\s+{_WORD}){{1,3}}"
    rf"|\b\d{{1,4}}\s+(?:{_WORD}\s+){{1,2}}(?:street|st\.|road|rd\.|avenue|lane)(?!\w)",
    re.IGNORECASE)
_NOT_A_STREET = (r"Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag|Wochenende|Morgen|Vormittag"
                 r"|Mittag|Nachmittag|Abend|Tag|Anfang|Ende|Beispiel|Januar|Februar|März|April|Mai|Juni|Juli"
                 r"|August|September|Oktober|November|Dezember")
_AM_STREET = re.compile(
    r"\b(?:[Aa]m|[Aa]n\s+der|[Aa]n\s+den|[Zz]um|[Zz]ur|[Uu]nterm|[Aa]uf\s+dem|[Aa]uf\s+der|[Hh]inter\s+der"
    rf"|[Vv]or\s+dem)\s+(?!(?:{_NOT_A_STREET})\b)[A-ZÄÖÜ][\wäöüß-]+(?:\s+[A-ZÄÖÜ][\wäöüß-]+)?\s+{_HOUSE}")
_ADDRESS_AFTER_KEYWORD = re.compile(
    r"\b(?P<lead>(?:adresse|anschrift|wohnadresse|address|адрес[ауи]?|адресу|adres(?:im|i)?|عنوان(?:ي)?"
    r"|العنوان|آدرس(?:م)?|نشانی(?:ام)?)\s*(?:ist|is|lautet|est|:|–|-)?\s*)"
    rf"[^,.;!?،؛؟\n]{{1,60}}?{_HOUSE}", re.IGNORECASE)

# --- names ---------------------------------------------------------------------------------------------------
# Introductions: the words after them (up to three, up to a stop word) are taken for a name, capitalised or not.
_INTRODUCTIONS = (
    r"ich\s+hei(?:ß|ss)e|mein\s+(?:vor|nach|familien)?name\s+(?:ist|lautet)|name\s*:|namens"
    r"|my\s+(?:first\s+|last\s+|full\s+|sur)?name\s+is|my\s+name['’]s|i\s+am\s+called|i['’]m\s+called"
    r"|мене\s+(?:звати|звуть)|моє\s+(?:ім['’ʼ]я|прізвище)(?:\s+[—-])?|ім['’ʼ]я\s*:|прізвище\s*:"
    r"|меня\s+зовут|мо[её]\s+имя|моя\s+фамилия|имя\s*:|фамилия\s*:"
    r"|benim\s+(?:ad[ıi]m|ismim)|(?:^|(?<=[.!?,;:]))\s*(?:ad[ıi]m|ismim)|ad[ıi]\s+soyad[ıi]\s*:"
    r"|je\s+m['’]appelle|mon\s+(?:pré)?nom\s+(?:est|c['’]est)|nom\s*:"
    r"|(?:أنا\s+|انا\s+)?(?:اسمي|إسمي)|الاسم\s*:|اسم\s+من|اسمم|نام\s+من|نامم"
    r"|mit\s+freundlichen\s+grü(?:ß|ss)en|(?:viele|liebe|beste)\s+grü(?:ß|ss)e|mfg|lg|gru(?:ß|ss)"
    r"|(?:best|kind)\s+regards|cordialement|bien\s+à\s+vous|с\s+уважением|з\s+повагою|saygılarımla"
    r"|مع\s+تحياتي|با\s+(?:تشکر|احترام|سپاس)"
)
_INTRODUCED = re.compile(rf"(?P<lead>(?<!\w)(?:{_INTRODUCTIONS})[,:]?)(?P<rest>(?:\s+{_TOKEN}){{1,3}})",
                         re.IGNORECASE)
# Self-descriptions that a name follows only if it is capitalised ("I am Anna", not "I am pregnant").
_SELF = re.compile(rf"(?P<lead>(?<!\w)(?:i\s+am|i['’]m|je\s+suis))(?P<rest>(?:\s+{_TOKEN}){{1,3}})",
                   re.IGNORECASE)
# Titles: a capitalised name follows ("Frau Müller"); not "meine Frau Deutsch lernen" (there "Frau" means wife).
_TITLED = re.compile(
    r"(?P<lead>(?<!\w)(?<!meine\s)(?<!deine\s)(?<!seine\s)(?<!ihre\s)(?<!unsere\s)(?<!eure\s)(?<!eine\s)"
    r"(?<!einer\s)(?<!meiner\s)(?<!keine\s)"
    r"(?:herr|herrn|hr\.|frau|fr\.|dr\.|prof\.|mr\.?|mrs\.?|ms\.?|miss|madame|mme\.?|monsieur|m\.|mlle\.?"
    r"|пан(?:а|у|ом|е|і)?|господ(?:ин|ина|ину|ином|ине)|госпож(?:а|и|е|у|ой)|г-н|г-жа|sayın))"
    rf"(?P<rest>(?:\s+{_TOKEN}){{1,2}})", re.IGNORECASE)
# Arabic script has no capitals: up to two words after the title are taken for a name.
_TITLED_ARABIC = re.compile(
    r"(?P<lead>(?<!\w)(?:السيد|السيدة|الأستاذ|الاستاذ|الأستاذة|الدكتور|الدكتورة|آقای|خانم|دکتر|استاد))"
    rf"(?P<rest>(?:\s+{_TOKEN}){{1,2}})")
_TURKISH_TITLE_AFTER = re.compile(r"\b(?:[A-ZÇĞİÖŞÜ][\wçğıöşü]+\s+){1,2}(?=(?:Hanım|Bey|Hoca)(?!\w))")
_PERSIAN_I_AM = re.compile(rf"(?<!\w)(?P<lead>من\s+)(?:{_TOKEN}\s+){{1,3}}?(?=هستم(?!\w))")
# Words that end a name: conjunctions, pronouns, question words and common verbs of the eight languages.
_STOP_WORDS = frozenset("""
und oder aber ich bin wohne komme habe hab suche möchte brauche will aus in wie wo was wann warum wer welche mit
von bei für an auf zu im am der die das ein eine mein meine
and or but i am i'm from live how where what when why who need want have with in at the a an my is
і й та а я з із як де що коли мені маю живу потрібно хочу мій моя у в на
и из как где что когда мне нужно хочу мой
ve ben ile nasıl nerede ne neden istiyorum için ama bir benim
et je j'ai j’ai de d' comment où quand pourquoi qui avec pour mais le la les un une mon ma
و أنا انا من في كيف أين اين هل ماذا متى لدي عندي أريد اريد وأنا وانا
است هستم از در چطور کجا آیا میخواهم می‌خواهم دارم با برای را
""".split())

# --- numbers -------------------------------------------------------------------------------------------------
_PHONE = re.compile(r"(?<!\w)\+?\(?\d[\d\s/().-]{5,}\d(?!\w)")
_DIGIT_TOKEN = re.compile(r"(?<![\w/+-])[\w/+-]*\d(?:[\w/.+-]*\w)?")
_DIGIT = re.compile(r"\d")


def _name_tokens(rest: str, cased: bool, limit: int) -> int:
    """How many of the words in ``rest`` belong to the name (stop words and placeholders end it)."""
    taken = 0
    for word in rest.split()[:limit]:
        if word.lower() in _STOP_WORDS or word.startswith("["):
            break
        if cased and not word[0].isupper():
            break
        taken += 1
    return taken


def _replace_name(match: re.Match[str], cased: bool = False, limit: int = 3) -> str:
    rest = match.group("rest")
    taken = _name_tokens(rest, cased, limit)
    if not taken:
        return match.group(0)
    words = list(re.finditer(r"\S+", rest))
    return match.group("lead") + rest[:words[0].start()] + NAME + rest[words[taken - 1].end():]


def _remove_names(text: str) -> str:
    text = _INTRODUCED.sub(_replace_name, text)
    text = _SELF.sub(lambda m: _replace_name(m, cased=True), text)
    text = _TITLED.sub(lambda m: _replace_name(m, cased=True, limit=2), text)
    text = _TITLED_ARABIC.sub(lambda m: _replace_name(m, limit=2), text)
    text = _TURKISH_TITLE_AFTER.sub(NAME + " ", text)
    return _PERSIAN_I_AM.sub(lambda m: m.group("lead") + NAME + " ", text)


def _remove_addresses(text: str) -> str:
    text = _ADDRESS_AFTER_KEYWORD.sub(lambda m: m.group("lead") + ADDRESS, text)
    text = _AM_STREET.sub(ADDRESS, text)
    text = _COMPOUND_STREET.sub(ADDRESS, text)
    return _STREET_WITH_NUMBER.sub(ADDRESS, text)


def _long_number(match: re.Match[str]) -> str:
    token = match.group(0)
    return NUMBER if len(_DIGIT.findall(token)) >= 3 else token


def remove_personal_data(text: str) -> str:
    """``text`` with e-mail and web addresses, numbers, dates, file numbers, street addresses and introduced
    names replaced by placeholders such as ``[email]`` (see the module docstring for what can remain).

    :param text: a question in any of the eight supported languages.
    :returns: the pseudonymised text.
    """
    # One spelling of "ä" or "й" for the patterns (a question may arrive decomposed).
    text = unicodedata.normalize("NFC", text)
    text = _SPELLED_EMAIL.sub(EMAIL, text)
    text = _EMAIL.sub(EMAIL, text)
    text = _URL.sub(URL, text)
    text = _IBAN.sub(IBAN, text)
    text = _DATES.sub(DATE, text)
    text = _BIRTHDAY.sub(lambda m: m.group("lead") + DATE, text)
    text = _FILE_NUMBER.sub(lambda m: m.group("lead") + NUMBER, text)
    text = _remove_addresses(text)
    text = _remove_names(text)
    text = _PHONE.sub(NUMBER, text)
    return _DIGIT_TOKEN.sub(_long_number, text)
