"""Quote-first answers: "What did X say (about Y)?" is answered from X's stored statements, verbatim and cited.

The answer is built from the statements themselves, not by the model, so every statement is reported complete and
word for word: direct quotes in quotation marks, reported speech as the article reports it. Each is cited with the
passage (chunk) that holds it, so citations keep the shape of a retrieved answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.types import Answer, Citation, Filters, Passage
from assistant.verify import check_answer
from index.quotes import is_speech_verb
from index.statements import StoredStatement, covering_passages, find, spans

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from index.store import Store

# Cosine similarity (MiniLM) between a topic and a statement from which the statement counts as about the topic.
# Set on the sample articles: topics nobody spoke about (football, trade, weather) reach 0.12 at most, on-topic
# statements mostly score 0.27-0.68; a short sentence that needs its context ("There is no legal basis for their
# detention", topic "the sailors") scores near 0 and is missed unless it shares a word with the topic.
TOPIC_MIN_SIMILARITY = 0.25
MAX_STATEMENTS = 20  # in one answer; the newest are kept
_PRONOUNS = frozenset("he she they him her it we you i his hers them their its".split())
_VERBS = (
    r"say|says|said|saying|tell|tells|told|telling|respond|responds|responded|responding|react|reacts|reacted|"
    r"reacting|reply|replies|replied|replying|comment|comments|commented|commenting|add|added|mean|meant"
)
_FILLER = r"(?:(?:also|actually|exactly|publicly|just|ever|really|else|then|first|later|previously|recently)\s+)*"
_LEAD = re.compile(
    r"^(?:(?:and|so|but|ok|okay|then|now|also|well|please|alright)\b[\s,]*)*"
    r"(?:(?:can|could|would|will)\s+you\s+)?(?:please\s+)?(?:(?:tell|show|give)\s+me\s+|list\s+|summari[sz]e\s+)?",
    re.IGNORECASE,
)
_ASKED = (
    # what did X say / what has X said / how did X respond / what did X tell reporters / what did X have to say
    re.compile(
        r"^(?:what|how)\s+(?:else\s+|exactly\s+)?(?:did|does|do|has|have|had|was|is|were|are)\s+(?P<who>.+?)\s+"
        + _FILLER
        + r"(?:have\s+to\s+|had\s+to\s+|been\s+)?(?P<verb>"
        + _VERBS
        + r")\b(?P<rest>.*)$",
        re.IGNORECASE,
    ),
    # (tell me) what X said about Y
    re.compile(r"^what\s+(?P<who>.+?)\s+(?:has\s+|had\s+|have\s+)?(?P<verb>said|says|told)\b(?P<rest>.*)$", re.I),
    # what was X's response / reaction / comment to Y
    re.compile(
        r"^what\s+(?:was|were|is|are|has\s+been|have\s+been)\s+(?P<who>.+?)['’]s?\s+(?P<verb>response|reaction|reply|"
        r"answer|comments?|remarks?|statements?|words|message|position)\b(?P<rest>.*)$",
        re.IGNORECASE,
    ),
    # did X say anything about Y
    re.compile(r"^did\s+(?P<who>.+?)\s+(?P<verb>say|comment|speak|talk)\s+(?:anything\s+)?(?P<rest>.*)$", re.I),
    # quotes from X (about Y)
    re.compile(r"^(?:quotes?|statements?|comments?|remarks?)\s+(?P<verb>from|by|of)\s+(?P<who>.+?)(?P<rest>)$", re.I),
)
_FOLLOW_UP_TOPIC = re.compile(r"^(?:what|how)\s+about\s+(?P<topic>.+)$", re.IGNORECASE)
_WITH_CONTEXT = re.compile(r"^(?P<main>.*?\S)\s*\((?P<context>[^()]+)\)\s*$")
_TOPIC = re.compile(
    r"\b(?:about|regarding|concerning|over|in\s+(?:response|reply)\s+to|when\s+asked\s+about|on)\s+(?P<topic>.+)$",
    re.IGNORECASE,
)
_TO_TOPIC = re.compile(r"^\s*to\s+(?P<topic>.+)$", re.IGNORECASE)  # "respond to the demarche"
_WHO_TOPIC = re.compile(r"^(?P<who>.+?)\s+(?P<rest>(?:about|regarding|concerning|on)\s+.+)$", re.IGNORECASE)
_STOPWORDS = frozenset(
    (
        "a an the this that these those of to in on at for from by with about and or but as is are was were be been "
        "his her their its it he she they what which who whom when where how why did does do has have had say said "
        "tell told anything something else also any all some articles article archive news report reports "
        "monday tuesday wednesday thursday friday saturday sunday today yesterday week month year last recently "
        "january february march april may june july august september october november december"
    ).split()
)
_TRAILING_QUOTE_PUNCT = ",;:"


@dataclass(frozen=True)
class QuoteQuestion:
    """A question about what someone said: the speaker as asked, and the topic ("" for everything they said)."""

    speaker: str
    topic: str = ""


def parse_quote_question(text: str) -> QuoteQuestion | None:
    """Recognise "what did X say", "what has X said about Y", "how did X respond", "what did X tell ...".

    A follow-up that chat could not rewrite arrives as "what did she say about wages? (What did Hart say?)": the
    pronoun is then resolved to the speaker of the earlier question in the parentheses.
    """
    text = text.strip()
    context = _WITH_CONTEXT.match(text)
    main = context["main"] if context else text
    asked = _parse(main)
    if context is None:
        return asked
    earlier = parse_quote_question(context["context"])
    if earlier is None or _is_pronoun(earlier.speaker):
        return asked
    if asked is not None and _is_pronoun(asked.speaker):
        return QuoteQuestion(earlier.speaker, asked.topic)
    follow_up = _FOLLOW_UP_TOPIC.match(_LEAD.sub("", _bare(main)))
    if asked is None and follow_up:
        return QuoteQuestion(earlier.speaker, _clean_topic(follow_up["topic"]))
    return asked


def answer_from_statements(question: str, query: str, store: Store, *, filters: Filters | None = None) -> Answer | None:
    """Answer a quote question from the speaker's stored statements; None when it is not one or they said nothing.

    `query` is the question to interpret (in chat, the standalone rewrite); `question` is what the user typed.
    `filters` keeps to statements in articles of those outlets (exact names, as retrieval) and days.
    """
    asked = parse_quote_question(query)
    if asked is None or _is_pronoun(asked.speaker):
        return None
    filters = filters or Filters()
    said = find(store.db, asked.speaker, since=filters.since or None, until=filters.until or None)
    if filters.sources:  # `find` matches part of one outlet's name; filters name outlets exactly
        said = [s for s in said if s.source in filters.sources]
    if said and asked.topic:
        said = about(said, asked.topic, store.embeddings)
    if not said:
        return None
    return compose(question, said, store)


def about(said: Sequence[StoredStatement], topic: str, embeddings: Embeddings) -> list[StoredStatement]:
    """The statements about `topic`: sharing a content word with it, or close to it in meaning (MiniLM).

    Only the statement's own words count: comparing its whole sentence as well (tried) mostly let a neighbouring
    statement's topic in ("said A, and added that B").
    """
    words = _stems(topic)
    if not words or not said:
        return list(said)
    vectors = embeddings.embed_documents([s.text for s in said])
    target = embeddings.embed_query(topic)
    kept = []
    for s, vector in zip(said, vectors, strict=True):
        similarity = sum(a * b for a, b in zip(vector, target, strict=True))
        if words & _stems(s.text) or similarity >= TOPIC_MIN_SIMILARITY:
            kept.append(s)
    return kept


def compose(question: str, said: Sequence[StoredStatement], store: Store) -> Answer:
    """Report each statement verbatim under its article, each cited with the passage that holds it."""
    shown = list(said)[-MAX_STATEMENTS:]
    passages: list[Passage] = []
    numbers: dict[str, int] = {}
    texts: dict[str, str] = {}
    taken: dict[str, list[tuple[int, int]]] = {}
    introduced: set[tuple[str, str]] = set()
    lines: list[str] = []
    current = None
    for s in shown:
        if s.doc_id != current:
            current = s.doc_id
            meta = ", ".join(x for x in (s.source, s.published_at[:10]) if x)
            lines.extend(([""] if lines else []) + [s.title + (f" ({meta})" if meta else "") + ":"])
        marks = ""
        for p in covering_passages(store.db, s.doc_id, s.start, s.end):
            if p.chunk_id not in numbers:
                passages.append(p)
                numbers[p.chunk_id] = len(passages)
            marks += f"[{numbers[p.chunk_id]}]"
        subject = s.speaker[:1].upper() + s.speaker[1:]
        if s.role and (s.speaker, s.doc_id) not in introduced:
            subject += f", {s.role},"
        introduced.add((s.speaker, s.doc_id))
        if s.doc_id not in texts:
            texts[s.doc_id] = store.article(s.doc_id).text
            taken[s.doc_id] = spans(store.db, s.doc_id)
        lines.append(f"- {subject} {_report(s, texts[s.doc_id], taken[s.doc_id])} {marks}".rstrip())
    hidden = len(said) - len(shown)
    if hidden:
        lines.append(f"\n{hidden} earlier statement{'s are' if hidden != 1 else ' is'} not shown.")
    text = "\n".join(lines)
    return Answer(
        question=question,
        text=text,
        refused=False,
        citations=[Citation(n, p) for n, p in enumerate(passages, start=1)],
        passages=passages,
        checked=check_answer(text, passages),  # per-sentence citations for --json; the quotes are verbatim by build
    )


def _report(s: StoredStatement, article_text: str, taken: Sequence[tuple[int, int]]) -> str:
    """The statement as the article gives it: a quote in quotation marks, reported speech after its own verb."""
    if s.kind == "direct":
        return f"said: “{s.text.rstrip(_TRAILING_QUOTE_PUNCT)}”"
    intro = _intro(article_text, s.start, taken)
    return f"{intro} {s.text}" if intro else f"said: {s.text}"


def _intro(text: str, start: int, taken: Sequence[tuple[int, int]]) -> str:
    """The article's words from the speech verb up to the statement ("said that", "told reporters on Monday that").

    Empty when there is none in the sentence, or when those words belong to another statement ("said A and that B").
    """
    bound = max(text.rfind("\n", 0, start) + 1, start - 160)
    before = text[bound:start]
    ends = [m.end() for m in re.finditer(r"[.!?][\"”’)]?\s", before)]
    before = before[ends[-1] :] if ends else before
    tokens = list(re.finditer(r"[A-Za-z]+", before))[-12:]
    verb = next((t for t in reversed(tokens) if is_speech_verb(t.group())), None)
    if verb is None:
        return ""
    intro = before[verb.start() :].strip()
    first = start - len(before) + verb.start()
    if re.search(r"[\"“”‘]", intro) or any(a < start and b > first for a, b in taken):
        return ""
    word = verb.group()
    if word.lower().endswith("ing"):  # "..., adding that" reads as its own line: "added that"
        intro = _past(word) + intro[len(word) :]
    return intro.rstrip(",:")


def _past(participle: str) -> str:
    irregular = {"saying": "said", "telling": "told", "denying": "denied"}
    word = participle.lower()
    return irregular.get(word) or word[:-3] + "ed"


def _parse(text: str) -> QuoteQuestion | None:
    bare = _LEAD.sub("", _bare(text))
    for pattern in _ASKED:
        m = pattern.match(bare)
        if m is None:
            continue
        who, rest, verb = m["who"].strip(), m["rest"], m["verb"].lower()
        inner = _WHO_TOPIC.match(who) if verb in {"from", "by", "of"} else None
        if inner:  # "quotes from Miller about terrorism"
            who, rest = inner["who"], " " + inner["rest"]
        if not who or len(who.split()) > 8:
            return None
        return QuoteQuestion(who, _topic(verb, rest))
    return None


def _topic(verb: str, rest: str) -> str:
    rest = rest.strip()
    if verb.startswith(("respond", "react", "repl", "response", "reaction", "answer")):
        to = _TO_TOPIC.match(rest)
        if to:
            return _clean_topic(to["topic"])
    if verb in {"say", "speak", "talk", "comment"} and rest.lower().startswith("that "):  # "did X say that ..."
        return _clean_topic(rest[5:])
    found = _TOPIC.search(rest)
    return _clean_topic(found["topic"]) if found else ""


def _clean_topic(topic: str) -> str:
    topic = re.sub(r"\s+in\s+the\s+(?:articles?|archive|news)\s*$", "", topic.strip(), flags=re.I).strip()
    return topic if _stems(topic) else ""


def _bare(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("’", "'")).strip().rstrip("?.! ").strip()


def _is_pronoun(speaker: str) -> bool:
    return speaker.lower() in _PRONOUNS


def _stems(text: str) -> set[str]:
    out = set()
    for word in re.findall(r"[a-z0-9]+", text.lower().replace("’", "'")):
        if word in _STOPWORDS or len(word) < 3:
            continue
        for suffix in ("ing", "ed", "es", "s"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                word = word[: -len(suffix)]
                break
        out.add(word[:7])
    return out
