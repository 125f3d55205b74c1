"""Follow-up questions: "Und wann hat die offen?" after an answer about the Volkshochschule.

The server keeps nothing about a conversation. The client sends the previous turns (their questions and the
unit ids of their answers), and this module decides, from the new question's wording alone, whether it leans
on them:

* ``strong`` — the question points back: a pronoun or place adverb that needs an antecedent ("when is *it*
  open?", "was kostet *das*?", "*там*", "*هناك*"), or an elliptic start ("*und* in Lobeda?", "*а* скільки?",
  "*peki* …"). Such a question is answered about the previous turn.
* ``weak`` — a short question that asks only for a detail (opening hours, fee, documents …, see
  :mod:`pipelines.details`) and names no pointer ("Коли відчинено?", "متى يفتح؟"). It may be a follow-up or a
  complete question ("Was kostet der Integrationskurs?"): the caller asks it on its own first and uses the
  previous turn only when that answer is not confident or is about the previous turn's units anyway.
* ``None`` — a question of its own; the previous turns are ignored (a new topic starts fresh).

The cues are deliberately narrow (existential "es gibt", "is there", French "est-ce que" are not pointers) and
only short questions are considered: a long question carries its own topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pipelines.details import asked_details

Cue = Literal["strong", "weak"]

#: Words at most in a question that may point back (longer questions carry their own topic).
MAX_STRONG_WORDS = 10
#: Words at most in a detail-only question that may be a follow-up.
MAX_WEAK_WORDS = 8
#: A detail-only question answered on its own at least this confidently, about something other than the
#: previous answer, is a new topic ("Was kostet der Integrationskurs?" 0.98; "Welche Unterlagen brauche ich?",
#: which names no topic, 0.45: measured on the follow-up questions of the development split).
NEW_TOPIC_CONFIDENCE = 0.75
#: Previous turns the contract accepts (oldest first).
MAX_TURNS = 2

# Elliptic starts: the question continues the previous one ("und …?", "and what about …?").
_ELLIPTIC: dict[str, str] = {
    "de": r"^(?:und|aber|und was|und wie|und wo|und wann|was ist mit|wie ist es mit)\b",
    "en": r"^(?:and|but|what about|how about|also)\b",
    "uk": r"^(?:а|і|й|та|ну а|а як щодо|а що з)(?!\w)",
    "ru": r"^(?:а|и|ну а|а как насч[её]т|а что с)(?!\w)",
    "ar": r"^(?:و\s|وماذا|وكم|ومتى|وأين|واين|وين|وشو|وهل|وكيف|ماذا عن|طيب)",
    "fa": r"^(?:و\s|پس\s|اون\s|آن\s|خب\s)",
    "tr": r"^(?:peki|ve|ya|bir de|ayrıca)(?!\w)",
    "fr": r"^(?:et|mais|et pour|et à|et si|quant à)(?!\w)",
}

# Pointers: pronouns and place adverbs whose antecedent is in the previous turn. Articles are not pointers
# ("die VHS"), so German "das/die/der" count only at the end or right before a predicate word.
_POINTERS: dict[str, str] = {
    "de": r"(?<!\w)(?:dort|dorthin|da(?:hin|für|zu|von|ran|rauf|bei)?|hierfür|denen|ihnen|ihm"
          r"|(?<!gibt )es(?! gibt)(?!\w)|(?:das|die|der|dies|diese[rsmn]?|sie|er)\s*[?.!]*$"
          r"|(?:das|die|der|sie|er)\s+(?:offen|auf|geöffnet|zu|denn|eigentlich|noch|genau|kosten|kostet))(?!\w)",
    "en": r"(?<!\w)(?:it(?! (?:possible|true|allowed|necessary|legal))|its|it's|they|them|their|theirs"
          r"|those|(?<!is )(?<!are )there(?! is| are| was)|that|this)(?!\w)",
    "uk": r"(?<!\w)(?:це|цього|цьому|цим|там|туди|звідти|вона|він|воно|вони|її|його|їх|їм|ця|цей|ці|тут)(?!\w)",
    "ru": r"(?<!\w)(?:это|этого|этому|этим|там|туда|оттуда|она|он|оно|они|её|ее|его|их|им|эта|этот|эти|тут)(?!\w)",
    "ar": r"(?<!\w)(?:(?<!ما )(?<!من )(?:هو|هي)|هم|هناك|هنا|ذلك|هذا|هذه|تلك|له|لها|فيه|فيها|عندهم|عندها|لهم)(?!\w)",
    "fa": r"(?<!\w)(?:آن|اون|این|اینجا|آنجا|اونجا|اونا|آنها|اینها|برایش|براش)(?!\w)",
    "tr": r"(?<!\w)(?:o|onu|onun|ona|orası|orasi|orada|oraya|oranın|bu|bunu|bunun|buna|şu|onlar|onların|orda)(?!\w)",
    "fr": r"(?<!\w)(?:ça|cela|celle-ci|celui-ci|là-bas|ils|elle|elles|leur|leurs|y aller|j'y|on y|y est)(?!\w)",
}

_ELLIPTIC_RE = re.compile("|".join(f"(?:{p})" for p in _ELLIPTIC.values()), re.IGNORECASE)
_POINTER_RE = re.compile("|".join(f"(?:{p})" for p in _POINTERS.values()), re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


def _normalised(question: str) -> str:
    """Lower case, trimmed, with typographic apostrophes unified and leading punctuation dropped."""
    return question.strip().replace("’", "'").lstrip("¿¡-–—…. ").casefold()


def follow_up_cue(question: str) -> Cue | None:
    """How strongly the wording of ``question`` points back to a previous turn (see the module docstring)."""
    text = _normalised(question)
    words = len(_WORD.findall(text))
    if words == 0:
        return None
    if words <= MAX_STRONG_WORDS and (_ELLIPTIC_RE.search(text) or _POINTER_RE.search(text)):
        return "strong"
    if words <= MAX_WEAK_WORDS and asked_details(text):
        return "weak"
    return None


@dataclass(frozen=True)
class Turn:
    """A previous turn as the client sends it: the question and the unit ids of its answer, most relevant
    first."""

    question: str
    unit_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class FollowUpContext:
    """What a follow-up is answered with: the text to retrieve with, and the units of the previous answer."""

    search_text: str
    previous_ids: tuple[str, ...]


def follow_up_context(question: str, previous: list[Turn]) -> FollowUpContext:
    """The retrieval text and the units to prefer for ``question`` answered as a follow-up of ``previous``.

    The topic is in the latest turn, or — when that turn was itself a follow-up ("und wann hat die offen?") —
    in the one before it. The new question comes first because the dense embedder reads only the start of a
    long text; the units are the latest answer's (an earlier one's when the latest gave none).
    """
    latest = previous[-1]
    topic = [latest.question]
    if len(previous) > 1 and follow_up_cue(latest.question):
        topic.append(previous[-2].question)
    ids = latest.unit_ids or next((t.unit_ids for t in reversed(previous[:-1]) if t.unit_ids), ())
    return FollowUpContext(search_text=" ".join([question, *topic]), previous_ids=tuple(dict.fromkeys(ids)))
