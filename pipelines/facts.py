"""The facts a resident acts on — phone numbers, web and e-mail addresses, amounts, dates, times, street
addresses, any other number — read out of a text in a form that survives rewording.

A language model that rephrases an answer may keep every quotation verbatim and still add a premium-rate
hotline or turn a fee of 25 € into 15 €. :func:`unsupported_fact` names the first such fact of a rewrite that
none of the texts it was given contain. Each kind is compared in a normal form: phone numbers by their digits
(``+49 3641 …`` = ``03641 …``, groups may be dropped from either end), web addresses by host and path
(lower-cased, without scheme, ``www.`` or trailing slash), e-mail addresses lower-cased, amounts by value,
scale and currency (``25,00 €`` = ``25 Euro`` = ``EUR 25``), dates by day, month and year (``12.03.2026`` =
``2026-03-12`` = ``12. März 2026``), times by hour and minute, ranges such as opening hours ``8–12`` as
ranges, house numbers together with their street; every other digit run must occur somewhere in the sources.
Digits of every script (Arabic-Indic ``٢٥``, Persian ``۲۵`` …) are read as ASCII digits first, and invisible
formatting characters (the bidi isolates around numbers in right-to-left answers) are dropped.

Limits: numbers written as words ("zwei Wochen") are not recognised, and a plain number (a floor, a count) is
supported by the same digits anywhere in the sources, whatever they count there.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

#: Citation markers such as [1]: their numbers are checked against the citations, not here.
_MARKER = re.compile(r"\[\d+\]")


class _FoldTable(dict[int, int | str | None]):
    """``str.translate`` table, filled on first sight of each character: digits of any script become ASCII
    digits, invisible formatting characters (category Cf) vanish, everything else stays."""

    def __missing__(self, code: int) -> int | str | None:
        char = chr(code)
        digit = unicodedata.decimal(char, None)
        value = None if unicodedata.category(char) == "Cf" else str(digit) if digit is not None else code
        self[code] = value
        return value


# Arabic decimal and thousands separators read like their Latin counterparts.
_FOLD = _FoldTable({0x066B: ",", 0x066C: "."})
#: Joins source texts so that no fact runs from one into the next.
_TEXT_BREAK = "\n|\n"

_URL_CHARS = r"[^\s<>«»\"“”„‘’()\[\]{}]"
_SCHEME_URL = re.compile(rf"(?i:\b(?:https?|ftp)://|\bwww\.){_URL_CHARS}+")
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.ASCII)
# A bare domain such as neu.jena.de/de: its last label is lower-case (so "Jena.Das" after a missing space is
# not one) or a well-known top-level domain in any case.
_KNOWN_TLDS = "de|com|org|net|eu|info|io|ru|ua|tr|fr|ir|at|ch|uk|us|gov|edu|app|online|site|link|biz"
_DOMAIN = re.compile(
    rf"(?<![\w@.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?:[a-z]{{2,24}}|(?i:{_KNOWN_TLDS}))"
    rf"(?![\w-])(?:/{_URL_CHARS}*)?")
_TRAILING_PUNCTUATION = ".,;:!?'’"

_MONTHS: dict[int, tuple[str, ...]] = {
    1: ("januar", "jänner", "jan", "january", "janvier", "ocak", "січня", "січень", "січні", "января", "январь",
        "январе", "يناير", "كانون الثاني", "ژانویه"),
    2: ("februar", "feb", "february", "février", "şubat", "лютого", "лютий", "лютому", "февраля", "февраль",
        "феврале", "فبراير", "شباط", "فوریه"),
    3: ("märz", "mär", "march", "mar", "mars", "mart", "березня", "березень", "березні", "марта", "март",
        "марте", "مارس", "آذار"),
    4: ("april", "apr", "avril", "nisan", "квітня", "квітень", "квітні", "апреля", "апрель", "апреле", "أبريل",
        "ابريل", "نيسان", "آوریل"),
    5: ("mai", "may", "mayıs", "травня", "травень", "травні", "мая", "май", "мае", "مايو", "أيار", "مه"),
    6: ("juni", "jun", "june", "juin", "haziran", "червня", "червень", "червні", "июня", "июнь", "июне", "يونيو",
        "حزيران", "ژوئن"),
    7: ("juli", "jul", "july", "juillet", "temmuz", "липня", "липень", "липні", "июля", "июль", "июле", "يوليو",
        "تموز", "ژوئیه"),
    8: ("august", "aug", "août", "ağustos", "серпня", "серпень", "серпні", "августа", "август", "августе",
        "أغسطس", "آب", "اوت", "آگوست"),
    9: ("september", "sept", "sep", "septembre", "eylül", "вересня", "вересень", "вересні", "сентября",
        "сентябрь", "сентябре", "سبتمبر", "أيلول", "سپتامبر"),
    10: ("oktober", "okt", "october", "oct", "octobre", "ekim", "жовтня", "жовтень", "жовтні", "октября",
         "октябрь", "октябре", "أكتوبر", "تشرين الأول", "اکتبر"),
    11: ("november", "nov", "novembre", "kasım", "листопада", "листопад", "листопаді", "ноября", "ноябрь",
         "ноябре", "نوفمبر", "تشرين الثاني", "نوامبر"),
    12: ("dezember", "dez", "december", "dec", "décembre", "aralık", "грудня", "грудень", "грудні", "декабря",
         "декабрь", "декабре", "ديسمبر", "كانون الأول", "دسامبر"),
}
_MONTH_OF = {name: month for month, names in _MONTHS.items() for name in names}
# Longest first, so "march" is not read as "mar" + "ch".
_MONTH = "(?P<month>" + "|".join(re.escape(n) for n in sorted(_MONTH_OF, key=len, reverse=True)) + r")\b\.?"
_NO_DIGIT_BEFORE = r"(?<![\d.,/:-])"
_NO_DIGIT_AFTER = r"(?![\d])"
# Month-first dates are tried only where a digit follows soon: trying every month name at every word is slow.
_DIGIT_SOON = r"\b(?=[^\d\n|]{2,16}\d)"
_DATES = [
    re.compile(rf"{_NO_DIGIT_BEFORE}(?P<year>(?:19|20)\d\d)-(?P<mm>\d{{1,2}})-(?P<day>\d{{1,2}}){_NO_DIGIT_AFTER}"),
    re.compile(rf"{_NO_DIGIT_BEFORE}(?P<day>\d{{1,2}})[./](?P<mm>\d{{1,2}})[./](?P<year>\d{{4}}|\d\d){_NO_DIGIT_AFTER}"),
    re.compile(rf"{_NO_DIGIT_BEFORE}(?P<day>\d{{1,2}})(?:\.|st|nd|rd|th)?\s*(?:de\s+|of\s+)?{_MONTH}"
               rf"(?:,?\s*(?P<year>\d{{4}}){_NO_DIGIT_AFTER})?", re.IGNORECASE),
    re.compile(rf"{_DIGIT_SOON}{_MONTH}\s*(?P<day>\d{{1,2}})(?:st|nd|rd|th)?{_NO_DIGIT_AFTER}(?:,?\s*(?P<year>\d{{4}})"
               rf"{_NO_DIGIT_AFTER})?", re.IGNORECASE),
    re.compile(rf"{_DIGIT_SOON}{_MONTH}\s*(?P<year>\d{{4}}){_NO_DIGIT_AFTER}", re.IGNORECASE),
    re.compile(rf"{_NO_DIGIT_BEFORE}(?P<year>(?:19|20)\d\d)-(?P<mm>0[1-9]|1[0-2])(?![\d-])"),
]
_TIME = re.compile(r"(?<![\d.,:])(?P<hour>[01]?\d|2[0-3])(?::(?P<minute>[0-5]\d)(?![\d:])"
                   r"|\.(?P<dot_minute>[0-5]\d)(?=\s*(?:Uhr|h\b)))")

#: Currencies and their words in the supported languages; matched case-insensitively.
_CURRENCIES: dict[str, str] = {
    "EUR": r"€|eur\b|euros?\b|євро|евро|يورو|یورو|avro\b",
    "cent": r"cents?\b|ct\b|центів|центи|цент\w*|سنت|kuruş",
    "USD": r"\$|usd\b|dollars?\b|долар\w*|доллар\w*|دولار|دلار|dolar\b",
    "UAH": r"₴|uah\b|грн\b|гривень|гривні|гривня|гривен\w*",
    "RUB": r"₽|rub\b|руб\w*",
    "TRY": r"₺|tl\b|lira\b|türk lirası",
    "GBP": r"£|gbp\b|pounds?\b",
    "CHF": r"chf\b|franken\b|francs?\b",
}
_SCALES: dict[str, str] = {
    "k": r"tausend|thousand|mille|bin|тисяч\w*|тысяч\w*|ألف|آلاف|هزار",
    "m": r"mio\.?|millionen|million\w*|мільйон\w*|миллион\w*|مليون|ملايين|میلیون|milyon",
    "bn": r"mrd\.?|milliarden?|billions?|milliards?|мільярд\w*|миллиард\w*|مليار\w*|میلیارد|milyar",
}
_CURRENCY = "|".join(_CURRENCIES.values())
_SCALE = "|".join(_SCALES.values())
_AMOUNT = r"\d{1,3}(?:[.,\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_MONEY = [
    re.compile(rf"{_NO_DIGIT_BEFORE}(?P<amount>{_AMOUNT})(?:,-|\.-)?\s*(?:(?P<scale>{_SCALE})\s*)?"
               rf"(?P<currency>{_CURRENCY})", re.IGNORECASE),
    re.compile(rf"(?P<currency>€|\$|£|₴|₽|₺|\beur\b|\busd\b|\bchf\b)\s?(?P<amount>{_AMOUNT})"
               rf"(?:\s*(?P<scale>{_SCALE}))?", re.IGNORECASE),
]
# Ranges of small numbers — opening hours "8–12", "13:30–18", ages "6–10" — compared as ranges: "8–13" where the
# source says "8–12" changes the hours even if 13 occurs elsewhere.
_RANGE = re.compile(r"(?<![\d.,:/-])(?P<low>\d{1,2}(?::[0-5]\d)?)\s?[–-]\s?(?P<high>\d{1,2}(?::[0-5]\d)?)(?![\d:])")
# A street and its house number ("Teichgraben 5", "Merseburger Str. 38", "Saalstraße 8A"): the house number
# counts only with its street, so "Teichgraben 12" is not supported by a 12 elsewhere.
_STREET_WORDS = ("straße|strasse|str\\.|weg|platz|gasse|graben|markt|allee|damm|ufer|steig|pfad|chaussee|promenade|"
                 "anger|zeile|stieg|klinikum")
_ADDRESS = re.compile(
    rf"\b(?=[\w. -]{{3,40}}\d)(?P<street>(?:[A-ZÄÖÜ][\w-]*er\s)?(?:[A-ZÄÖÜ][\w-]*)?(?i:{_STREET_WORDS}))\s?"
    r"(?P<number>\d{1,3}(?:\s?[a-zA-Z](?!\w))?)(?![\d])")
#: Year ranges ("2024-2026") are two years, not a phone number.
_YEAR_RANGE = re.compile(r"(?<![\d.,/-])(?:19|20)\d\d\s?[-–/]\s?(?:19|20)\d\d(?![\d])")
#: Digit groups joined by single separators; with at least _PHONE_DIGITS digits it is read as a phone number.
_PHONE = re.compile(r"\+?\(?\d+\)?(?:(?:\s?[/–-]\s?|[ .])\(?\d+\)?)*")
_PHONE_DIGITS = 6
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")

Date = tuple[int | None, int | None, int | None]  # (day, month, year); the day may be unknown


def fact_text(text: str) -> str:
    """The text with digits of every script as ASCII digits, compatibility forms folded (NFKC) and invisible
    formatting characters (bidi isolates, zero-width spaces) removed, so ``⁦٠٩٠٠⁩`` reads ``0900``."""
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


def _number(digits: str) -> str:
    """A digit run without leading zeros ("03" and "3" are the same number)."""
    return digits.lstrip("0") or "0"


def _url(raw: str) -> str:
    """Host and path, lower-cased, without scheme, ``www.``, fragment or trailing slash."""
    url = raw.rstrip(_TRAILING_PUNCTUATION).lower()
    url = re.sub(r"^[a-z]+://", "", url).split("#", 1)[0].rstrip("/")
    return url.removeprefix("www.")


def _amount(raw: str) -> str:
    """An amount's value as digits with an optional decimal part: "1.000" → "1000", "25,50" → "25.5"."""
    number = re.sub(r"[\s\u202f]", "", raw)
    whole, decimals = number, ""
    last = max(number.rfind("."), number.rfind(","))
    if last >= 0 and len(number) - last - 1 in (1, 2):
        whole, decimals = number[:last], number[last + 1:]
    whole = _number(re.sub(r"\D", "", whole))
    decimals = decimals.rstrip("0")
    return f"{whole}.{decimals}" if decimals else whole


def _kind(token: str, table: dict[str, str]) -> str:
    """Which entry of ``table`` (currency or scale) the matched word belongs to."""
    for name, pattern in table.items():
        if re.fullmatch(pattern, token, re.IGNORECASE):
            return name
    return token.lower()


def _phone_groups(raw: str) -> list[str]:
    """A phone number's digit groups, with German country codes written as the trunk prefix 0."""
    text = raw.replace("(0)", " ").strip()
    text = re.sub(r"^(?:\+\s?49|0049)\D?", "0", text)
    text = re.sub(r"^\+\s?", "00", text)
    return _DIGITS.findall(text)


@dataclass
class Facts:
    """What a text states that a reader could act on, each in its normal form."""

    urls: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    amounts: set[tuple[str, str, str]] = field(default_factory=set)
    dates: set[Date] = field(default_factory=set)
    times: set[tuple[int, int]] = field(default_factory=set)
    ranges: set[tuple[str, str]] = field(default_factory=set)
    addresses: set[tuple[str, str]] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)

    def add_phone(self, raw: str, every_part: bool) -> bool:
        """Record a phone number; with ``every_part`` also each run of its consecutive groups, so a source's
        ``+49 3641 49-3800`` supports ``03641 493800`` and ``49-3800``. False if it is too short to be one."""
        groups = _phone_groups(raw)
        if sum(len(g) for g in groups) < _PHONE_DIGITS:
            return False
        if not every_part:
            self.phones.add("".join(groups))
            return True
        for start in range(len(groups)):
            for end in range(start + 1, len(groups) + 1):
                digits = "".join(groups[start:end])
                if len(digits) >= _PHONE_DIGITS:
                    self.phones.add(digits)
        return True


def _take(pattern: re.Pattern[str], text: str, record: Callable[[re.Match[str]], bool | None]) -> str:
    """``text`` with every match that ``record`` accepts (returns anything but False) blanked out."""
    def blank(match: re.Match[str]) -> str:
        return match.group() if record(match) is False else " "

    return pattern.sub(blank, text)


def _date(match: re.Match[str], facts: Facts) -> bool:
    groups = match.groupdict()
    month = _MONTH_OF.get((groups.get("month") or "").lower()) or int(groups.get("mm") or 0)
    day = int(groups["day"]) if groups.get("day") else None
    year = int(groups["year"]) if groups.get("year") else None
    if year is not None and year < 100:
        year += 2000
    if not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return False
    facts.dates.add((day, month, year))
    return True


def _money(match: re.Match[str], facts: Facts) -> None:
    scale = _kind(match.group("scale"), _SCALES) if match.group("scale") else ""
    facts.amounts.add((_amount(match.group("amount")), scale, _kind(match.group("currency"), _CURRENCIES)))


def _range(match: re.Match[str], facts: Facts) -> None:
    facts.ranges.add((match.group("low").removesuffix(":00"), match.group("high").removesuffix(":00")))


def _address(match: re.Match[str], facts: Facts) -> None:
    street = _SPACE.sub(" ", match.group("street").lower()).replace("strasse", "straße").replace("str.", "straße")
    facts.addresses.add((street, re.sub(r"\s", "", match.group("number").lower())))


def _time(match: re.Match[str], facts: Facts) -> None:
    facts.times.add((int(match.group("hour")), int(match.group("minute") or match.group("dot_minute"))))


def extract_facts(text: str, *, source: bool = False) -> Facts:
    """The facts of one text.

    :param text: any text; citation markers ``[n]`` are ignored.
    :param source: read the text as a source: every digit run counts as a number it contains, a phone number
        supports each run of its groups, and an e-mail address vouches for its domain as a web address.
    :returns: the facts, each in its normal form.
    """
    facts = Facts()
    text = _MARKER.sub(" ", fact_text(text))
    if source:
        facts.numbers.update(_number(d) for d in _DIGITS.findall(text))
    text = _take(_SCHEME_URL, text, lambda m: facts.urls.add(_url(m.group())))

    def email(match: re.Match[str]) -> None:
        address = match.group().rstrip(_TRAILING_PUNCTUATION).lower()
        facts.emails.add(address)
        if source:
            facts.urls.add(address.split("@", 1)[1])

    text = _take(_EMAIL, text, email)
    text = _take(_DOMAIN, text, lambda m: facts.urls.add(_url(m.group())))
    for pattern in _DATES:
        text = _take(pattern, text, lambda m: _date(m, facts))
    for pattern in _MONEY:
        text = _take(pattern, text, lambda m: _money(m, facts))
    text = _take(_ADDRESS, text, lambda m: _address(m, facts))
    text = _take(_YEAR_RANGE, text, lambda m: facts.numbers.update(_DIGITS.findall(m.group())))
    text = _take(_PHONE, text, lambda m: facts.add_phone(m.group(), every_part=source))
    text = _take(_RANGE, text, lambda m: _range(m, facts))
    text = _take(_TIME, text, lambda m: _time(m, facts))
    if not source:
        facts.numbers.update(_number(d) for d in _DIGITS.findall(text))
    if source:
        # A page's host vouches for the host alone: "neu.jena.de" where the sources give neu.jena.de/de/…
        facts.urls.update({url.split("/", 1)[0] for url in facts.urls})
    return facts


def source_facts(texts: Iterable[str]) -> Facts:
    """The facts of all source texts together (read in one pass; no fact spans two texts)."""
    return extract_facts(_TEXT_BREAK.join(texts), source=True)


def _date_supported(date: Date, sources: Facts) -> bool:
    day, month, year = date
    for s_day, s_month, s_year in sources.dates:
        if s_month != month or (day is not None and s_day != day):
            continue
        if year is None or s_year == year or (s_year is None and str(year) in sources.numbers):
            return True
    return False


def unsupported_fact(text: str, sources: Facts) -> str | None:
    """The kind of the first fact of ``text`` that ``sources`` do not contain, or ``None``.

    :param text: the text to check (a model's rewrite).
    :param sources: :func:`source_facts` of everything the text may draw on.
    :returns: a fixed phrase naming the kind of fact ("phone number not in the sources", …), never the fact
        itself, so it is safe to log and to return to a client.
    """
    facts = extract_facts(text)
    if facts.emails - sources.emails:
        return "e-mail address not in the sources"
    if facts.urls - sources.urls:
        return "web address not in the sources"
    if facts.phones - sources.phones:
        return "phone number not in the sources"
    if facts.amounts - sources.amounts:
        return "amount not in the sources"
    if any(not _date_supported(date, sources) for date in facts.dates):
        return "date not in the sources"
    # "9:00" is supported by a source's "9 Uhr" too (read there as the number 9).
    if any(t not in sources.times and not (t[1] == 0 and str(t[0]) in sources.numbers) for t in facts.times):
        return "time not in the sources"
    if facts.ranges - sources.ranges:
        return "range of numbers not in the sources"
    if facts.addresses - sources.addresses:
        return "street address not in the sources"
    if facts.numbers - sources.numbers:
        return "number not in the sources"
    return None
