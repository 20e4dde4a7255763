"""Plain data shapes shared by the index, retrieval, answer chain and CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk of an article: the unit that is shown, numbered and cited."""

    chunk_id: str
    doc_id: str
    chunk_no: int
    title: str
    source: str
    published_at: str
    path: str
    start: int  # offset of `text` in the article's cleaned text
    end: int
    text: str
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the passage as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Filters:
    """Metadata filters on retrieval: outlets (exact names as indexed) and a publication-day range (YYYYMMDD)."""

    sources: tuple[str, ...] = ()
    since: int = 0
    until: int = 0

    def __bool__(self) -> bool:
        return bool(self.sources or self.since or self.until)

    def chroma_where(self) -> dict[str, Any] | None:
        """The filter as a Chroma `where` clause (None when empty)."""
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.since:
            clauses.append({"published_day": {"$gte": self.since}})
        if self.until:
            clauses.append({"published_day": {"$lte": self.until}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def sql(self, table: str) -> tuple[str, list[Any]]:
        """The filter as SQL conditions on an articles table alias, with parameters ('1' when empty)."""
        conditions: list[str] = []
        params: list[Any] = []
        if self.sources:
            conditions.append(f"{table}.source IN ({','.join('?' * len(self.sources))})")
            params.extend(self.sources)
        if self.since:
            conditions.append(f"{table}.published_day >= ?")
            params.append(self.since)
        if self.until:
            conditions.append(f"{table}.published_day <= ?")
            params.append(self.until)
        return (" AND ".join(conditions) or "1"), params


@dataclass(frozen=True)
class Citation:
    """A passage as cited in an answer: `n` is the marker number used in the answer text."""

    n: int
    passage: Passage

    def to_dict(self) -> dict[str, Any]:
        """Return the citation in the shape `ask --json` prints."""
        p = self.passage
        return {
            "n": self.n,
            "doc_id": p.doc_id,
            "title": p.title,
            "source": p.source,
            "published_at": p.published_at,
            "path": p.path,
            "start": p.start,
            "end": p.end,
            "text": p.text,
        }


@dataclass
class Answer:
    """What `answer()` returns: the final text, whether it refused, and what it cites."""

    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)  # every passage shown to the model, numbered from 1
    standalone_question: str | None = None  # the rewritten question in chat, when it differs
    checked: Any = None  # the citation checker's verdict (assistant.verify.CheckedAnswer)
    reason: str = ""  # why it refused, when it did: "no indexed article mentions X", "no passage is close"...

    def to_dict(self) -> dict[str, Any]:
        """Return the answer in the shape `ask --json` prints.

        `sentences` lists each sentence the checker kept, the passage numbers it cites and whether those passages
        support it. A refusal has `reason` and the closest passages it found (`closest`), numbered from 1.
        """
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [
                {"text": s.text, "citations": list(s.citations), "supported": bool(s.supported)}
                for s in (self.checked.sentences if self.checked is not None and not self.refused else [])
            ],
        }
        if self.refused:
            data["reason"] = self.reason
            data["closest"] = [
                {
                    "n": n,
                    "doc_id": p.doc_id,
                    "title": p.title,
                    "source": p.source,
                    "published_at": p.published_at,
                    "text": p.text,
                    "score": round(p.score, 4),
                }
                for n, p in enumerate(self.passages[:3], start=1)
            ]
        return data
