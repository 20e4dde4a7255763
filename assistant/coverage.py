"""Notice, before any retrieval or model call, when a question is about something the index cannot hold.

Two cheap, exact signals, each reported with its reason so the user sees why the answer is a refusal:

- the question names an outlet ("according to the BBC", "a Variety article") that no indexed article comes from;
- the question names someone or something (a capitalised word inside the sentence) that no indexed passage
  mentions at all.

Both were measured on the MultiHop-RAG dev questions (BENCHMARKS.md): together they flag most questions the corpus
cannot answer and under 1% of those it can.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.store import Store

_MEDIA = r"(?:article|report|piece|coverage|story|column|review|op-ed|analysis|interview|editorial|feature)s?"
# A capitalised name: "The Washington Post", "Sporting News", "CBSSports.com", "Globes English | Israel ...".
_NAME_WORDS = r"((?:The\s+)?[A-Z][\w.&'’-]*(?:\s+(?:of\s+|&\s+|-\s+|\|\s+)?[A-Z][\w.&'’-]*)*)"
_OPEN_QUOTE = r"['‘\"“]?"
_ACCORDING_TO = re.compile(rf"(?:according to|as reported in)\s+(?:the\s+)?{_OPEN_QUOTE}{_NAME_WORDS}")
_OUTLET_MENTIONS = (
    re.compile(rf"{_MEDIA}\s+(?:in|from|by|published by|published in)\s+(?:the\s+)?{_OPEN_QUOTE}{_NAME_WORDS}"),
    re.compile(rf"(?:reported by|published (?:in|by))\s+(?:the\s+)?{_OPEN_QUOTE}{_NAME_WORDS}"),
    re.compile(rf"\b(?:[Aa]n?|[Tt]he)\s+{_OPEN_QUOTE}{_NAME_WORDS}['’\"”]?(?:['’]s)?\s+{_MEDIA}\b"),
    _ACCORDING_TO,
)
_CAPITALISED = re.compile(r"(?<![\w'’])(?:[A-Z][\w'’.-]*[a-z0-9][\w'’.-]*|[A-Z]{2,}[\w-]*)")
_SENTENCE_START = re.compile(r"(?:^|[.?!:;]\s+|[\"“(]\s*)$")
_POSSESSIVE = re.compile(r"['’]s?$")
# Capitalised words that are not names: sentence openers, question words, calendar words.
_NOT_NAMES = frozenset(
    (
        "What Who Whom Whose When Where Which Why How Did Does Do Is Are Was Were Has Have Had Can Could Will Would "
        "Should In On At According After Before Between Considering The A An And Or Of For To From By With About Tell "
        "List Name Give Please Summarize Summarise Explain Describe Compare If It This That These Those There Their "
        "January February March April May June July August September October November December Monday Tuesday "
        "Wednesday Thursday Friday Saturday Sunday I"
    ).split()
)


@dataclass(frozen=True)
class Gap:
    """Why the index cannot answer a question: what was named and is missing."""

    kind: str  # "outlet" | "name"
    missing: tuple[str, ...]

    def reason(self) -> str:
        """One line for the user."""
        names = ", ".join(self.missing)
        if self.kind == "outlet":
            return f"no indexed article comes from {names}"
        return f"no indexed article mentions {names}"


def outlet_mentions(question: str) -> list[tuple[str, bool]]:
    """The names the question uses as outlets ("an article from X", "the X report", "according to X").

    Each comes with whether it is certainly an outlet: "according to X" may name a person instead.
    """
    found: dict[str, bool] = {}
    for pattern in _OUTLET_MENTIONS:
        for match in pattern.finditer(question):
            name = _POSSESSIVE.sub("", match.group(1)).strip(" '’\"”.,")
            if name and name.split()[0] not in _NOT_NAMES - {"The"}:
                found[name] = found.get(name, False) or pattern is not _ACCORDING_TO
    return list(found.items())


def unknown_outlets(question: str, sources: list[str], mentioned: Callable[[str], bool]) -> list[str]:
    """Outlets named in the question that match no indexed source (either name may contain the other).

    A name after "according to" that the articles mention is taken for a person or body, not an outlet.
    """
    known = [_outlet_key(s) for s in sources]
    missing = []
    for name, certain in outlet_mentions(question):
        key = _outlet_key(name)
        indexed = not key or any(key == k or key in k or k in key for k in known if k)
        if not indexed and (certain or not mentioned(name)):
            missing.append(name)
    return missing


def names_in(question: str) -> list[str]:
    """Capitalised words inside sentences (not openers, question or calendar words), possessives stripped."""
    names = []
    for match in _CAPITALISED.finditer(question):
        if _SENTENCE_START.search(question[: match.start()]):
            continue
        word = _POSSESSIVE.sub("", match.group()).strip(".")
        if len(word) > 1 and word not in _NOT_NAMES:
            names.append(word)
    return list(dict.fromkeys(names))


def coverage_gap(question: str, store: Store) -> Gap | None:
    """Return why the index cannot cover `question`, or None when nothing named is missing."""
    outlets = unknown_outlets(question, store.sources(), store.mentions)
    if outlets:
        return Gap("outlet", tuple(outlets))
    missing = tuple(name for name in names_in(question) if not store.mentions(name))
    return Gap("name", missing) if missing else None


def _outlet_key(name: str) -> str:
    words = re.sub(r"[^\w\s]", " ", name.lower()).split()
    return " ".join(words[1:] if words[:1] == ["the"] else words)
