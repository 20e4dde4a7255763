"""Sentence-aware chunking sized for the embedder: each chunk plus its title header fits the word-piece limit.

A chunk is always a contiguous slice `text[start:end]` of the cleaned article, so a citation can point at it.
Sentences are kept whole unless one alone exceeds the budget, in which case it is cut at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

TokenCounter = Callable[[Sequence[str]], list[int]]

# Two tokens of every encoded sequence are the [CLS] and [SEP] markers.
_SPECIAL_TOKENS = 2

_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "gen",
    "sen",
    "rep",
    "gov",
    "lt",
    "col",
    "capt",
    "sgt",
    "st",
    "jr",
    "sr",
    "inc",
    "corp",
    "ltd",
    "co",
    "no",
    "vs",
    "etc",
    "e.g",
    "i.e",
    "a.m",
    "p.m",
    "u.s",
    "u.k",
    "u.n",
    "e.u",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "fig",
    "approx",
    "est",
}
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and something that can start a sentence.
_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([\w.]+)[.!?]*[\"'”’)\]]*$")


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: `text == article_text[start:end]`."""

    chunk_no: int
    start: int
    end: int
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Return (start, end) spans of the sentences in text; line breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        line_start = line.start()
        start = 0
        body = line.group(0)
        for match in _END.finditer(body):
            word = _WORD_BEFORE.search(body[: match.end()])
            token = word.group(1).lower().rstrip(".") if word else ""
            if token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha()):
                continue  # "Mr. Smith", "U.S. officials", "J. Smith"
            spans.append((line_start + start, line_start + match.end()))
            start = match.end()
            while start < len(body) and body[start].isspace():
                start += 1
        if body[start:].strip():
            spans.append((line_start + start, line_start + len(body.rstrip())))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def header_for(title: str, source: str, published_at: str) -> str:
    """Return the header line embedded (and indexed) before each chunk: title, outlet and date."""
    meta = ", ".join(part for part in (source, published_at[:10]) if part)
    return f"{title}\n{meta}\n" if meta else f"{title}\n"


def chunk_text(
    text: str,
    *,
    header: str,
    count_tokens: TokenCounter,
    max_tokens: int = 256,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Split `text` into chunks of whole sentences whose header + text fits `max_tokens` word-pieces."""
    header_tokens = count_tokens([header])[0] if header else 0
    budget = max(16, max_tokens - _SPECIAL_TOKENS - header_tokens)
    pieces = _pieces(text, count_tokens, budget)
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        used = 0
        j = i
        while j < len(pieces) and used + pieces[j][2] <= budget:
            used += pieces[j][2]
            j += 1
        j = max(j, i + 1)
        start, end = pieces[i][0], pieces[j - 1][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if j >= len(pieces):
            break
        # Repeat the last sentences in the next chunk ("he added" keeps its antecedent), but always move forward.
        i = max(i + 1, j - overlap_sentences) if j - i > overlap_sentences else j
    return chunks


def _pieces(text: str, count_tokens: TokenCounter, budget: int) -> list[tuple[int, int, int]]:
    """Return (start, end, tokens) for each sentence, cutting sentences over the budget at word boundaries."""
    spans = sentence_spans(text)
    counts = count_tokens([text[s:e] for s, e in spans]) if spans else []
    pieces: list[tuple[int, int, int]] = []
    for (start, end), tokens in zip(spans, counts, strict=True):
        if tokens <= budget:
            pieces.append((start, end, tokens))
        else:
            pieces.extend(_split_long(text, start, end, count_tokens, budget))
    return pieces


def _split_long(text: str, start: int, end: int, count_tokens: TokenCounter, budget: int) -> list[tuple[int, int, int]]:
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    counts = count_tokens([text[s:e] for s, e in words])
    out: list[tuple[int, int, int]] = []
    piece: tuple[int, int] | None = None  # (start, end) of the piece being filled
    used = 0
    for (ws, we), tokens in zip(words, counts, strict=True):
        if piece and used + tokens > budget:
            out.append((piece[0], piece[1], used))
            piece, used = None, 0
        if tokens > budget:  # a single "word" longer than the budget (a URL, a run of symbols): cut by characters
            out.extend(_split_chars(text, ws, we, count_tokens, budget))
            continue
        piece = (piece[0] if piece else ws, we)
        used += tokens
    if piece:
        out.append((piece[0], piece[1], used))
    return out


def _split_chars(
    text: str, start: int, end: int, count_tokens: TokenCounter, budget: int
) -> list[tuple[int, int, int]]:
    out = []
    step = max(1, budget)  # a word-piece is at least one character
    for s in range(start, end, step):
        e = min(end, s + step)
        out.append((s, e, count_tokens([text[s:e]])[0]))
    return out
