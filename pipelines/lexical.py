"""Lexical sparse vectors: stemmed terms per language, weighted like BM25's term-frequency part.

Qdrant multiplies these values by the IDF of each term (``Modifier.IDF``), so sparse search inside Qdrant is
BM25 — embedded and on a cluster alike. Term ids are stable hashes of the stem, shared by all languages, so a
name such as "SprIntpool" or "jenarbeit" matches whatever language the question is in.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from collections import Counter

import snowballstemmer

# BM25 parameters (the usual defaults); AVERAGE_LENGTH is the typical unit length in terms.
K1 = 1.2
B = 0.75
AVERAGE_LENGTH = 40.0

_STEMMERS = {
    "de": "german", "de-simple": "german", "en": "english", "ru": "russian", "ar": "arabic",
    "fa": "persian", "tr": "turkish", "fr": "french",
}
_TOKEN = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)
_ARABIC_DIACRITICS = re.compile(r"[\u064B-\u065F\u0670\u0640]")

# Function words that carry no meaning for retrieval. Short lists on purpose: IDF handles the rest.
STOPWORDS: dict[str, frozenset[str]] = {
    "de": frozenset("""
        der die das den dem des ein eine einen einem einer eines und oder aber auch als am an auf aus bei bis
        durch für im in ist sind war mit nach nicht noch nur ob so sich sie er es wir ihr ich du man mich mir
        dir uns euch ihnen ihm ihn von vor wie wo was wer wann warum welche welcher welches zu zum zur über um
        unter kann können muss müssen soll sollen wird werden wurde habe hat haben gibt gib mein meine meinen
        meinem dein deine sein seine ihre ihren kein keine keinen da dass denn dort hier hallo bitte danke mal
        ja nein jemand etwas was's wie's gibt's gern gerne sehr viel viele einfach
    """.split()),
    "en": frozenset("""
        a an the and or but also as at on in into of for to from by with without is are was were be been being
        it its this that these those i me my we our you your he she they them their his her what which who
        whom where when why how can could should would will shall do does did have has had not no yes any
        some there here please hello hi thanks thank just get got need want there's i'm i've it's can't dont
        don't
    """.split()),
    "uk": frozenset("""
        і й та а але або в у на з із зі до від для по про за під над при як що де хто коли чому який яка яке
        які це цей ця ці той та те ті я ти він вона воно ми ви вони мене мені мій моя моє мої наш ваш свій
        є був була було були бути не ні так чи же ж би б мож можна треба потрібно будь ласка привіт дякую
    """.split()),
    "ru": frozenset("""
        и й а но или в во на с со к ко до от для по про за под над при как что где кто когда почему какой какая
        какое какие это этот эта эти тот та то те я ты он она оно мы вы они меня мне мой моя моё мои наш ваш
        свой есть был была было были быть не ни так ли же бы можно нужно надо пожалуйста привет спасибо
    """.split()),
    "ar": frozenset("""
        في من إلى الى على عن مع هذا هذه ذلك تلك الذي التي الذين أن ان إن لا لم لن ما ماذا متى أين اين كيف هل
        هو هي هم نحن أنا انا أنت انت و أو او ثم قد كان كانت يكون لي لك له لها عند كل أي اي يا مرحبا شكرا من
    """.split()),
    "fa": frozenset("""
        و در به از که این آن را با برای تا یا اما هم نیز است هست نیست بود شد می‌شود میشود کجا چطور چگونه چه
        چرا کی کدام آیا من تو او ما شما آنها ایشان یک هر همه باید میخواهم می‌خواهم لطفا سلام ممنون مرسی
    """.split()),
    "tr": frozenset("""
        ve veya ama ile için bir bu şu o da de mi mı mu mü ne nerede nasıl neden niçin kim hangi gibi çok daha
        en ben sen biz siz onlar benim bana beni senin bizim var yok olan olarak ise ki her şey lütfen merhaba
        teşekkürler acaba
    """.split()),
    "fr": frozenset("""
        le la les un une des du de d l et ou mais aussi au aux à en dans sur sous par pour avec sans est sont
        était être été ce cet cette ces je tu il elle nous vous ils elles me te se mon ma mes ton ta tes son sa
        ses notre votre leur qui que quoi où quand comment pourquoi quel quelle quels quelles ne pas plus y a
        ai as avez ont bonjour merci svp s'il plaît c'est j'ai est-ce qu'il qu'on
    """.split()),
}
STOPWORDS["de-simple"] = STOPWORDS["de"]

# Ukrainian has no Snowball stemmer: a light suffix stripper (longest suffix first) does the same job here.
_UK_SUFFIXES = sorted("""
    ами ями ові еві ою ею ах ях ам ям ів їв ий ій ої ого ому ими ими их ім іх ти ть ся сь ла ло ли ні ну на
    не ні ня ню ям ами ення ання ість ості ості ові а я о е у ю і ї и й
""".split(), key=len, reverse=True)


def _stem_uk(word: str) -> str:
    for suffix in _UK_SUFFIXES:
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


_PER_THREAD = threading.local()
#: Stems already computed, per language: a word's stem never changes, and the Snowball stemmers are pure Python
#: (about a tenth of a question's CPU outside the embedding went to stemming the same words again). Each entry
#: is written whole under the interpreter lock, so threads share the cache; it starts afresh when full.
_STEMS: dict[str, dict[str, str]] = {}
MAX_CACHED_STEMS = 50_000


def _stemmer(language: str):  # type: ignore[no-untyped-def]
    # A snowballstemmer stemmer keeps the word being stemmed in its own state: shared between threads (the
    # server's request threads, a re-ingest running beside them) it raises IndexError or returns wrong stems.
    # So every thread gets its own.
    stemmers = _PER_THREAD.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        name = _STEMMERS.get(language)
        stemmers[language] = snowballstemmer.stemmer(name) if name else None
    return stemmers[language]


def normalize(text: str) -> str:
    """Case-fold, NFC-normalise and drop Arabic diacritics and tatweel."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u200c", "")  # Persian ZWNJ joins a word
    return _ARABIC_DIACRITICS.sub("", text)


def tokenize(text: str) -> list[str]:
    """Words of a text, normalised (hyphenated compounds kept together and split into parts)."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(normalize(text)):
        word = match.group(0).replace("’", "'")
        tokens.append(word)
        if "-" in word:
            tokens.extend(part for part in word.split("-") if part)
    return tokens


def _is_content_word(word: str, stop: frozenset[str]) -> bool:
    if word.isdigit():
        return len(word) >= 4  # years ("bis 2027") matter, list numbers do not
    return len(word) > 1 and word not in stop


def stem_terms(text: str, language: str) -> list[str]:
    """Stemmed content terms of a text in a language (stopwords and one-letter tokens dropped).

    :param text: any text.
    :param language: a language code; unknown languages are only normalised, not stemmed.
    """
    stop = STOPWORDS.get(language, frozenset())
    words = [w for w in tokenize(text) if _is_content_word(w, stop)]
    cache = _STEMS.setdefault(language, {})
    stems = {w: cache.get(w) for w in words}  # a local view: another thread may clear the cache meanwhile
    missing = [w for w, stem in stems.items() if stem is None]
    if missing:
        if language == "uk":
            computed = {w: _stem_uk(w) for w in missing}
        else:
            stemmer = _stemmer(language)
            computed = dict(zip(missing, stemmer.stemWords(missing) if stemmer else missing, strict=True))
        stems.update(computed)
        if len(cache) + len(computed) > MAX_CACHED_STEMS:
            cache.clear()
        cache.update(computed)
    return [stems[w] for w in words]  # type: ignore[misc]


def term_id(term: str) -> int:
    """A stable 31-bit id for a term (the same on every machine and in every run)."""
    return zlib.crc32(term.encode("utf-8")) & 0x7FFFFFFF


def document_vector(text: str, language: str) -> tuple[list[int], list[float]]:
    """BM25 term-frequency weights of a document's terms (Qdrant applies the IDF).

    :returns: parallel lists of term ids and weights, sorted by id.
    """
    counts = Counter(term_id(t) for t in stem_terms(text, language))
    length = sum(counts.values()) or 1
    norm = K1 * (1 - B + B * length / AVERAGE_LENGTH)
    items = sorted((tid, tf * (K1 + 1) / (tf + norm)) for tid, tf in counts.items())
    return [i for i, _ in items], [w for _, w in items]


def query_vector(text: str, languages: list[str]) -> tuple[list[int], list[float]]:
    """A query's terms, stemmed with each candidate language's stemmer, each weighted 1.

    Stemming with several languages (the detected one and German) lets a German office name inside a
    Ukrainian question still match the German text.
    """
    ids: set[int] = set()
    for language in dict.fromkeys(languages):
        ids.update(term_id(t) for t in stem_terms(text, language))
    ordered = sorted(ids)
    return ordered, [1.0] * len(ordered)
