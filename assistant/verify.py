"""Check a generated answer's citations and quotations against the passages it was written from.

Offline and standard library only; it runs after the model has answered. `check_answer` splits the answer into
sentences and judges each one against the passages it cites (marker `[n]` means `passages[n-1]`).

Sentences. A list item (`-`, `*`, `•`, `+`, `1.`, `1)`) and a markdown heading are one sentence each; other lines are
joined into paragraphs and split after `.`, `!`, `?` or `…` followed by whitespace and a word that does not start in
lower case. No split inside a quotation (unless the quotation closes right after the full stop), after a title
(`Mr.`, `Dr.`), or after an initial, a dotted abbreviation (`U.S.`) or `Inc.`, `Jan.` and the like unless a marker or
a word that usually opens a sentence (`The`, `He`, ...) follows. `2.5` has no space after its dot. Markers right
after the full stop (`... said. [2] Next`) belong to the sentence before them.

Per sentence, in this order:

1. Markers pointing at no shown passage are removed (`[1, 7]` becomes `[1]` with five passages; `[7]` disappears with
   the space before it). Markers written inside a quotation are moved just after it. A double quotation mark that
   pairs with nothing is deleted: it would claim words are verbatim without saying which.
2. Every quotation ("...", “...”, «...», and ‘...’ or '...' when they open after a space and close before a
   non-letter, so apostrophes are not quotations) must be verbatim, up to whitespace and quote style, in a passage the
   sentence cites; a quotation of one or two words may come from anywhere in it. Two leniencies: a trailing `. , ; :`
   inside the closing mark may be missing from the passage (American punctuation), and an ellipsis (`...`, `…`,
   `[...]`) splits a quotation into parts that must each be verbatim. A quotation that is not verbatim counts as
   invented; it is replaced by the most similar run of whole words of a cited passage when difflib's ratio (case and
   quote style ignored) is at least 0.8, else the sentence is dropped. A final pass re-reads the sentence and drops it
   if any quotation still is not verbatim, so no unverified quotation ever reaches the output.
3. Support: the share of the sentence's content words (lower case, no stopwords or words about the sources such as
   "articles" or "reported", light suffix stemming) found in its cited passages' text, title and outlet, and every
   number in it (digits; "5%" = "5 percent" = "5 per cent"; "2.5 million" = "2,500,000" = "2.5m") present in them.
   A sentence below `min_support` or with a missing number is kept with `supported=False` unless `drop_unsupported`.

A sentence with no valid marker (the rule chosen for uncited sentences):

- connective, i.e. no number, no quotation and no content word ("Here is what the articles say:"), or a heading or
  lead-in ending in ":" with at most three content words ("Key developments:"): kept, uncited, `supported=True`;
- otherwise it borrows the citations of the nearest cited sentence before or after it, the one that supports it
  better, when under those citations its quotations verify and it is supported (`inherited=True`; no marker is added to
  the text);
- otherwise it is dropped.

When no cited sentence is left, connective sentences are dropped too, so the caller sees an empty answer and can
refuse. An answer that is exactly the refusal sentence (give or take surrounding whitespace) is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from functools import lru_cache
from itertools import combinations

from assistant.types import Passage

# Half of a sentence's content words must be found in its cited passages. Lexical overlap cannot tell a faithful
# paraphrase, which swaps in synonyms ("talks collapsed" for "negotiations broke down"), from an invention that reuses
# the passage's names, so this threshold only aims at sentences that are mostly not from the cited passage: a wrong
# citation or a claim from outside. Higher values flag ordinary paraphrase (a two-word claim with one synonym scores
# 0.5); lower ones let a sentence that shares only its subject's name pass. Numbers, the costliest mistakes, are
# checked strictly on their own.
DEFAULT_MIN_SUPPORT = 0.5

# A sentence the model left without a marker gets a passage of its own only when that passage holds at least this
# share of its content words (two of three): a stricter bar than for a cited sentence, as the citation is ours, not
# the model's (a two-word sentence needs both words, so a fragment copied from planted text does not pass).
OWN_CITATION_SUPPORT = 0.66

# A repaired quotation must be this similar (difflib ratio, case and quote style ignored) to what the model wrote:
# close enough to be the same words misremembered ("to all families" for "to every family"), not another sentence.
QUOTE_REPAIR_RATIO = 0.8

_MARKER_BODY = r"\[\s*([0-9]{1,6}(?:\s*(?:,|;|-|–|and)\s*[0-9]{1,6})*)\s*\]"
_MARKER_RE = re.compile(_MARKER_BODY)
_SPACED_MARKER_RE = re.compile(r"(\s*)" + _MARKER_BODY)
_MARKER_RANGE_RE = re.compile(r"(\d+)\s*[-–]\s*(\d+)")
_MARKER_SEP_RE = re.compile(r"\s*(?:,|;|\band\b)\s*")
_LONGEST_RANGE = 50  # "[1-3]" expands; "[1-900]" is a typo, so only its ends count

_DQ_OPEN = "“«"
_DQ_CLOSE = "”»"
_DQ = '"' + _DQ_OPEN + _DQ_CLOSE
_SQ_OPEN = "‘'"
_SQ_CLOSE = "’'"
_QUOTE_LIKE = _DQ + "„‟‘’‚‛'ʼ"  # all compare equal in find_verbatim
_OPENS_AFTER = "([{—–-/"  # a single quote right after these (or a space) opens a quotation

_NESTED_QUOTES = str.maketrans('"“”«»', "'‘’‘’")
_ELLIPSIS_RE = re.compile(r"\[\s*(?:\.\s*){3}\]|\[\s*…\s*\]|(?:\.\s*){3,}|…")
_TRAILING_PUNCT = ".,;:"
_WORDS_RE = re.compile(r"\w+(?:['’.,\-]\w+)*")  # words of a passage, for aligning repairs to word boundaries
_TERM_RE = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters only: digits are checked as numbers
_HAS_WORD_RE = re.compile(r"\w")

_BULLET_RE = re.compile(r"[ \t]*(?:[-*•+]|\d{1,3}[.)])[ \t]+(?=\S)")
_HEADING_RE = re.compile(r"[ \t]*#{1,6}[ \t]+(?=\S)")
_TERMINALS = ".!?…"
_DOTTED_RE = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_TITLES = _word_set(
    "mr mrs ms messrs dr prof st gen gov sen rep lt col capt cpt sgt maj cmdr adm rev hon pres supt det insp "
    "mt ft fr br"
)
_ABBREVIATIONS = _word_set(
    "inc corp ltd co plc llc bros jr sr etc vs approx dept est no nos vol fig jan feb mar apr jun jul aug sep sept "
    "oct nov dec mon tue tues wed thu thurs fri sat sun am pm a.m p.m e.g i.e cf al ave blvd rd hwy"
)
_STARTERS = _word_set(
    "the a an it he she they we i you his her its their our this that these those there here in on at by for from "
    "but and however meanwhile also after before when while according as if so yet still both all some many most "
    "no one two three officials critics analysts"
)

_STOPWORDS = _word_set(
    """
    a about above after again against all also although am among an and another any are aren't around as at be
    because been before being below between both but by can can't cannot could couldn't did didn't do does doesn't
    doing don't down during each either else even ever every few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've if in
    into is isn't it it's its itself just let's many may me might more moreover most much must mustn't my myself
    neither no nor not now of off on once one only or other others otherwise ought our ours ourselves out over own
    per same shall shan't she she'd she'll she's should shouldn't since so some still such than that that's the their
    theirs them themselves then there there's therefore these they they'd they'll they're they've this those though
    through thus to too toward towards under until up upon us very via was wasn't we we'd we'll we're we've were
    weren't what what's whatever when when's where where's whether which while who who's whom whose why why's will
    with within without won't would wouldn't yet you you'd you'll you're you've your yours yourself yourselves
    additionally furthermore meanwhile nevertheless nonetheless instead indeed already including despite amid along
    across besides like unlike new yes
    """
)
_META_WORDS = _word_set(
    """
    article articles passage passages source sources report reports reported reporting reporter according say says
    said saying tell tells told state states stated statement note notes noted add adds added mention mentions
    mentioned describe describes described explain explains explained provide provides provided context information
    info detail details document documents text excerpt excerpts summary summarize summarise summarizes overall
    conclusion based following below above available question answer answers key main point points highlight
    highlights finding findings takeaway takeaways indicate indicates indicated suggest suggests
    """
)
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_NUMBER_WORDS = {word: n for n, word in enumerate(f"{_ONES} seventeen eighteen nineteen twenty".split(" "))} | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "dozen": 12,
}
_SCALES = {
    "thousand": 10**3,
    "k": 10**3,
    "million": 10**6,
    "m": 10**6,
    "billion": 10**9,
    "bn": 10**9,
    "trillion": 10**12,
}
_NUMBER_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d{1,30})(?:\.(\d{1,30}))?"
    r"(?:(?P<ordinal>st|nd|rd|th|s)|(?P<abbr>bn|m|k)"
    r"|\s*(?P<pct>%|percentage\s+points?\b|percent\b|per\s*cent\b|pc\b)"
    r"|\s+(?P<scale>thousand|million|billion|trillion)\b)?(?!\w)",
    re.IGNORECASE,
)


@dataclass
class CheckedSentence:
    """One sentence of the answer and the verdict on it."""

    text: str  # as it will be shown: quotations repaired, invalid markers removed, bullet mark left out
    citations: list[int]  # valid marker numbers it cites (borrowed ones when `inherited`)
    supported: bool
    support: float = 1.0  # share of its content words found in the cited passages
    reason: str = ""  # why it is unsupported, repaired, inherited or connective; empty when plainly fine
    inherited: bool = False  # had no marker and borrowed the citations of a neighbouring sentence
    repaired_quotes: int = 0


@dataclass
class CheckedAnswer:
    """The answer after checking: the text to show, the sentences kept, and what was removed."""

    text: str  # kept sentences joined as in the original layout; marker numbers unchanged
    sentences: list[CheckedSentence]
    dropped: list[str]  # "reason: sentence" for each sentence removed
    invented_quotes: int  # quotations not verbatim in any cited passage, counted before repair
    repaired_quotes: int = 0


@dataclass
class _Unit:
    """A sentence as split from the answer, with the layout around it."""

    sep: str  # text between the previous unit and this one
    prefix: str  # bullet or heading mark
    body: str


@dataclass
class _Evidence:
    """What a passage offers for support: its text, content terms and numbers."""

    text: str
    terms: frozenset[str]
    numbers: frozenset[str]

    @classmethod
    def of(cls, passage: Passage) -> _Evidence:
        everything = f"{passage.title}\n{passage.source}\n{passage.published_at}\n{passage.text}"
        numbers = _numbers(everything, lenient=True)
        terms = content_terms(everything) | {f"#{n}" for n in numbers}
        return cls(passage.text, frozenset(terms), frozenset(numbers))


@dataclass
class _Verdict:
    """The result of checking one sentence body under one set of citations."""

    text: str | None  # None: dropped because of a quotation
    invented: int
    repaired: int
    support: float = 0.0
    missing_numbers: list[str] = field(default_factory=list)
    problem: str = ""

    def supported(self, min_support: float) -> bool:
        return self.text is not None and self.support >= min_support and not self.missing_numbers


@dataclass
class _Draft:
    unit: _Unit
    body: str
    citations: list[int]
    kept: CheckedSentence | None = None
    dropped_reason: str = ""


def check_answer(
    text: str,
    passages: Sequence[Passage],
    *,
    min_support: float = DEFAULT_MIN_SUPPORT,
    drop_unsupported: bool = False,
    refusal: str | None = None,
) -> CheckedAnswer:
    """Check markers, quotations and support of each sentence of `text` against the numbered `passages`."""
    if refusal is not None and " ".join(text.split()) == " ".join(refusal.split()):
        sentence = CheckedSentence(text=text.strip(), citations=[], supported=True, reason="refusal")
        return CheckedAnswer(text=text, sentences=[sentence], dropped=[], invented_quotes=0)

    evidence = [_Evidence.of(p) for p in passages]
    drafts = []
    for unit in _units(text):
        body = _clean_markers(_move_markers_out_of_quotes(_drop_unpaired_quotes(unit.body)), len(passages))
        drafts.append(_Draft(unit, body, cited_numbers(body)))

    invented = repaired = 0
    cited_positions = [i for i, d in enumerate(drafts) if d.citations]
    for i, draft in enumerate(drafts):
        if not _HAS_WORD_RE.search(draft.body):
            if draft.body:
                draft.kept = CheckedSentence(text=draft.body, citations=[], supported=True, reason="connective")
            else:
                draft.dropped_reason = "nothing left once markers to no passage were removed"
        elif draft.citations:
            verdict = _evaluate(draft.body, draft.citations, evidence)
            invented += verdict.invented
            repaired += verdict.repaired
            _settle(draft, verdict, draft.citations, min_support, drop_unsupported, inherited=False)
        elif _is_connective(draft.body):
            draft.kept = CheckedSentence(text=draft.body, citations=[], supported=True, reason="connective")
        else:
            before = [j for j in cited_positions if j < i]
            after = [j for j in cited_positions if j > i]
            neighbours = ([before[-1]] if before else []) + ([after[0]] if after else [])
            tried = [(_evaluate(draft.body, drafts[j].citations, evidence), drafts[j].citations) for j in neighbours]
            passing = [(v, c) for v, c in tried if v.supported(min_support)]
            own = _best_passages(draft.body, evidence, max(min_support, OWN_CITATION_SUPPORT)) if not passing else None
            if passing:
                verdict, citations = max(passing, key=lambda vc: vc[0].support)
                invented += verdict.invented
                repaired += verdict.repaired
                _settle(draft, verdict, citations, min_support, drop_unsupported, inherited=True)
            elif own is not None:
                verdict, group = own
                verdict.text = _append_marker(verdict.text or draft.body, group)
                _settle(draft, verdict, group, min_support, drop_unsupported, inherited=False)
                if draft.kept is not None:
                    draft.kept.reason = "; ".join(
                        filter(None, [draft.kept.reason, "citation added: the model gave none"])
                    )
            else:
                all_texts = [e.text for e in evidence]
                invented += sum(1 for q in _quote_parts(draft.body) if not _verbatim_anywhere(q, all_texts))
                draft.dropped_reason = (
                    "no citation marker, and the neighbouring sentences' passages do not support it"
                    if neighbours
                    else "no citation marker and no cited sentence to borrow from"
                )

    if not any(d.kept is not None and d.kept.citations for d in drafts):
        for draft in drafts:
            if draft.kept is not None:
                draft.kept = None
                draft.dropped_reason = "connective sentence with no cited sentence left"

    return CheckedAnswer(
        text=_join(drafts),
        sentences=[d.kept for d in drafts if d.kept is not None],
        dropped=[f"{d.dropped_reason}: {d.unit.body}" for d in drafts if d.kept is None],
        invented_quotes=invented,
        repaired_quotes=repaired,
    )


def cited_numbers(text: str) -> list[int]:
    """Return the numbers of the citation markers in text ([1], [1][3], [1, 3], [2-4]), in order of first use."""
    seen: dict[int, None] = {}
    for match in _MARKER_RE.finditer(text):
        for n in _marker_numbers(match.group(1)):
            seen.setdefault(n, None)
    return list(seen)


def find_verbatim(span: str, passage_text: str) -> tuple[int, int] | None:
    """Return where span occurs in passage_text, equal up to whitespace and quote style, on word boundaries."""
    needle, _ = _normalized(span.strip())
    if not needle:
        return None
    haystack, index = _normalized(passage_text)
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        left_ok = not (needle[0].isalnum() and start > 0 and haystack[start - 1].isalnum())
        right_ok = not (needle[-1].isalnum() and end < len(haystack) and haystack[end].isalnum())
        if left_ok and right_ok:
            return index[start], index[end - 1] + 1
        start = haystack.find(needle, start + 1)
    return None


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Return (start, end) of the content of each quotation in text, without its quotation marks."""
    quotes, _ = _scan_quotes(text)
    return [(open_at + 1, close_at) for open_at, close_at, _ in quotes]


# --- sentences ---------------------------------------------------------------------------------------------------


def _units(text: str) -> list[_Unit]:
    """Split the answer into sentences, keeping the text between them so the answer can be put back together."""
    blocks: list[list[int]] = []  # [prefix_start, content_start, end, is_paragraph]
    current: list[int] | None = None
    start = 0
    for line in text.split("\n"):
        end = start + len(line)
        mark = _BULLET_RE.match(line) or _HEADING_RE.match(line)
        if not line.strip():
            current = None
        elif mark:
            current = [start, start + mark.end(), end, 0]
            blocks.append(current)
            if _HEADING_RE.match(line):
                current = None
        elif current is not None and (current[3] or line[:1].isspace()):
            current[2] = end  # a paragraph goes on, or an indented line continues a list item
        else:
            indent = len(line) - len(line.lstrip())
            current = [start + indent, start + indent, end, 1]
            blocks.append(current)
        start = end + 1

    units: list[_Unit] = []
    previous_end = 0
    for prefix_start, content_start, end, is_paragraph in blocks:
        content = text[content_start:end].rstrip()
        sep, prefix = text[previous_end:prefix_start], text[prefix_start:content_start]
        spans = _split_sentences(content) if is_paragraph else [(0, len(content))]
        last = 0
        for n, (s, e) in enumerate(spans):
            body = content[s:e]
            if units and not _HAS_WORD_RE.search(_MARKER_RE.sub("", body)) and _MARKER_RE.search(body):
                units[-1].body += " " + body.strip()  # markers alone on a line belong to the sentence before
            elif n == 0:
                units.append(_Unit(sep, prefix, body))
            else:
                units.append(_Unit(content[last:s], "", body))
            last = e
        previous_end = content_start + len(content)
    return units


def _split_sentences(text: str) -> list[tuple[int, int]]:
    """Return (start, end) of each sentence of one paragraph."""
    quotes, _ = _scan_quotes(text)
    enclosing = [-1] * len(text)  # for each character inside a quotation, where that quotation closes
    for open_at, close_at, _ in quotes:
        for k in range(open_at + 1, close_at):
            enclosing[k] = close_at
    closers = {close_at for _, close_at, _ in quotes}

    spans = []
    start = i = 0
    n = len(text)
    while i < n:
        if text[i] not in _TERMINALS:
            i += 1
            continue
        j = i
        while j < n and text[j] in _TERMINALS:
            j += 1
        run_end = j
        if enclosing[i] >= 0:
            if j != enclosing[i]:
                i = run_end
                continue
            j += 1  # the full stop ends the quotation and the sentence: `... win."`
        while j < n and (text[j] == ")" or j in closers):
            j += 1
        had_markers = False
        while match := _SPACED_MARKER_RE.match(text, j):
            j, had_markers = match.end(), True
        k = j
        while k < n and text[k].isspace():
            k += 1
        if k < n and (k == j or not _may_start_sentence(text, k, text[i:run_end], i, had_markers)):
            i = run_end
            continue
        spans.append((start, j))
        start = i = k
    if start < n and text[start:].strip():
        spans.append((start, n))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def _may_start_sentence(text: str, k: int, run: str, stop: int, had_markers: bool) -> bool:
    """Whether the word at k starts a new sentence after the terminal punctuation `run` ending at text[stop]."""
    if text[k].islower() or text[k] in ",;:)]":
        return False
    if run != "." or had_markers:
        return True
    b = stop
    while b > 0 and not text[b - 1].isspace() and text[b - 1] not in "([" + _QUOTE_LIKE:
        b -= 1
    token = text[b:stop]
    lowered = token.lower()
    if lowered in _TITLES:
        return False
    if lowered in _ABBREVIATIONS or _DOTTED_RE.fullmatch(token) or (len(token) == 1 and token.isupper()):
        word = re.match(r"[A-Za-z]+", text[k:])
        return bool(word and word.group().lower() in _STARTERS) or text[k] in _DQ_OPEN + '"'
    return True


# --- markers -----------------------------------------------------------------------------------------------------


def _marker_numbers(body: str) -> list[int]:
    numbers: list[int] = []
    for piece in _MARKER_SEP_RE.split(body):
        if match := _MARKER_RANGE_RE.fullmatch(piece):
            low, high = int(match.group(1)), int(match.group(2))
            if 0 <= high - low <= _LONGEST_RANGE:
                numbers.extend(range(low, high + 1))
            else:
                numbers.extend((low, high))
        elif piece.strip().isdigit():
            numbers.append(int(piece))
    return numbers


def _clean_markers(text: str, count: int) -> str:
    """Remove marker numbers outside 1..count; a marker left empty goes with the whitespace before it."""

    def keep(match: re.Match[str]) -> str:
        numbers = _marker_numbers(match.group(2))
        valid = list(dict.fromkeys(n for n in numbers if 1 <= n <= count))
        if len(valid) == len(numbers):
            return match.group(0)
        return f"{match.group(1)}[{', '.join(map(str, valid))}]" if valid else ""

    return _SPACED_MARKER_RE.sub(keep, text).strip()


def _move_markers_out_of_quotes(text: str) -> str:
    """Put markers written inside a quotation right after it, so the quotation holds only quoted words."""
    quotes, _ = _scan_quotes(text)
    for open_at, close_at, _ in reversed(quotes):
        content = text[open_at + 1 : close_at]
        markers = _MARKER_RE.findall(content)
        if markers:
            moved = " " + "".join(f"[{m}]" for m in markers)
            inner = _SPACED_MARKER_RE.sub("", content)
            text = text[: open_at + 1] + inner + text[close_at] + moved + text[close_at + 1 :]
    return text


# --- quotations --------------------------------------------------------------------------------------------------


def _scan_quotes(text: str) -> tuple[list[tuple[int, int, bool]], list[int]]:
    """Find quotations as (open index, close index, is double) and the double quotation marks that pair with nothing.

    Double marks pair in order (a straight one opens when nothing is open); single marks count only where an
    apostrophe could not be: opening after a space or bracket, closing before a non-letter, never inside a double one.
    """
    quotes: list[tuple[int, int, bool]] = []
    unpaired: list[int] = []
    open_at: int | None = None
    for i, ch in enumerate(text):
        if ch not in _DQ:
            continue
        opening = ch in _DQ_OPEN or (ch == '"' and open_at is None)
        if opening:
            if open_at is not None:
                unpaired.append(open_at)
            open_at = i
        elif open_at is None:
            unpaired.append(i)
        else:
            quotes.append((open_at, i, True))
            open_at = None
    if open_at is not None:
        unpaired.append(open_at)

    covered = [False] * len(text)
    for start, end, _ in quotes:
        for k in range(start, end + 1):
            covered[k] = True
    open_at = None
    for i, ch in enumerate(text):
        if covered[i]:
            open_at = None  # a single quotation may not hold a double one
            continue
        if ch not in _SQ_OPEN + _SQ_CLOSE:
            continue
        before = text[i - 1] if i else " "
        after = text[i + 1] if i + 1 < len(text) else " "
        if open_at is not None and ch in _SQ_CLOSE and not before.isspace() and not after.isalnum():
            quotes.append((open_at, i, False))
            open_at = None
        elif ch in _SQ_OPEN and (before.isspace() or before in _OPENS_AFTER) and not after.isspace():
            open_at = None if after.isdigit() else i  # '90s is not a quotation
    quotes.sort()
    return quotes, sorted(unpaired)


def _drop_unpaired_quotes(text: str) -> str:
    _, unpaired = _scan_quotes(text)
    for i in reversed(unpaired):
        text = text[:i] + text[i + 1 :]
    return text


def _fragments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split a quotation's content at ellipses into the parts that must each be verbatim, trimmed of whitespace."""
    bounds = []
    position = start
    for match in _ELLIPSIS_RE.finditer(text, start, end):
        bounds.append((position, match.start()))
        position = match.end()
    bounds.append((position, end))
    parts = []
    for s, e in bounds:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if _HAS_WORD_RE.search(text, s, e):
            parts.append((s, e))
    return parts


def _quote_parts(text: str) -> list[str]:
    """Every part of every quotation in text that must be verbatim."""
    return [text[s:e] for qs, qe in quoted_spans(text) for s, e in _fragments(text, qs, qe)]


def _verbatim_anywhere(part: str, texts: Sequence[str]) -> bool:
    core = part.rstrip(_TRAILING_PUNCT).rstrip()
    return any(find_verbatim(part, t) is not None or (core and find_verbatim(core, t) is not None) for t in texts)


def _check_quotes(text: str, texts: Sequence[str]) -> tuple[str | None, int, int, str]:
    """Repair the quotations of one sentence: (new text or None to drop, invented, repaired, problem)."""
    invented = repaired = 0
    quotes, _ = _scan_quotes(text)
    for open_at, close_at, is_double in reversed(quotes):
        parts = _fragments(text, open_at + 1, close_at)
        bad = [(s, e) for s, e in parts if not _verbatim_anywhere(text[s:e], texts)]
        if not bad:
            continue
        invented += 1
        fixed = text
        for s, e in reversed(bad):
            part = text[s:e]
            core = part.rstrip(_TRAILING_PUNCT).rstrip()
            closest = _closest_span(core, texts)
            if closest is None:
                return None, invented, repaired, f"quotation not found in the cited passages: “{part}”"
            fixed = fixed[:s] + _nestable(closest) + part[len(core) :] + fixed[e:]
        if not is_double and any(ch in fixed[open_at + 1 : close_at + len(fixed) - len(text)] for ch in "‘’'"):
            # The repair holds single quotes of its own: switch the quotation to double marks so it still pairs.
            new_close = close_at + len(fixed) - len(text)
            fixed = fixed[:open_at] + "“" + fixed[open_at + 1 : new_close] + "”" + fixed[new_close + 1 :]
        text = fixed
        repaired += 1
    return text, invented, repaired, ""


def _nestable(span: str) -> str:
    """The passage's words as they can sit inside a quotation: one line, inner double quotes made single."""
    return " ".join(span.split()).translate(_NESTED_QUOTES)


def _closest_span(part: str, texts: Sequence[str]) -> str | None:
    """The run of whole words in texts most like part, if its difflib ratio reaches QUOTE_REPAIR_RATIO."""
    target = _normalized(part)[0].strip().lower()
    length = len(_WORDS_RE.findall(part))
    if not target or not length:
        return None
    slack = max(2, length // 4)
    matcher = SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    best: tuple[float, int, str] | None = None  # (ratio, minus the difference in word count, span)
    for passage_text in texts:
        normal, index = _normalized(passage_text)
        lowered = normal.lower()
        position = {original: k for k, original in enumerate(index)}  # words never start or end on whitespace
        words = list(_WORDS_RE.finditer(passage_text))
        for size in range(max(1, length - slack), min(len(words), length + slack) + 1):
            for a in range(len(words) - size + 1):
                start, end = words[a].start(), words[a + size - 1].end()
                matcher.set_seq1(lowered[position[start] : position[end - 1] + 1])
                floor = best[0] if best else QUOTE_REPAIR_RATIO
                if matcher.real_quick_ratio() < floor or matcher.quick_ratio() < floor:
                    continue
                candidate = (matcher.ratio(), -abs(size - length), passage_text[start:end])
                if candidate[0] >= QUOTE_REPAIR_RATIO and (best is None or candidate[:2] > best[:2]):
                    best = candidate
    return best[2] if best else None


@lru_cache(maxsize=256)
def _normalized(text: str) -> tuple[str, tuple[int, ...]]:
    """Text with whitespace runs as one space and every quote mark as `'`, and each character's original index."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if chars and chars[-1] == " ":
                continue
            ch = " "
        elif ch in _QUOTE_LIKE:
            ch = "'"
        chars.append(ch)
        index.append(i)
    return "".join(chars), tuple(index)


# --- support -----------------------------------------------------------------------------------------------------


def _evaluate(body: str, citations: Sequence[int], evidence: Sequence[_Evidence]) -> _Verdict:
    """Check one sentence body's quotations, then its support, against the cited passages."""
    cited = [evidence[n - 1] for n in citations]
    texts = [e.text for e in cited]
    text, invented, repaired, problem = _check_quotes(body, texts)
    if text is None:
        return _Verdict(None, invented, repaired, problem=problem)
    if not all(_verbatim_anywhere(part, texts) for part in _quote_parts(text)):
        return _Verdict(None, invented, repaired, problem="a quotation could not be verified after repair")
    plain = _MARKER_RE.sub(" ", text)
    terms = content_terms(plain)
    known: frozenset[str] = frozenset().union(*(e.terms for e in cited))
    numbers: frozenset[str] = frozenset().union(*(e.numbers for e in cited))
    support = sum(1 for t in terms if t in known) / len(terms) if terms else 1.0
    missing = sorted(_numbers(plain, lenient=False) - numbers)
    return _Verdict(text, invented, repaired, support=support, missing_numbers=missing)


def _best_passages(body: str, evidence: Sequence[_Evidence], min_support: float) -> tuple[_Verdict, list[int]] | None:
    """The passage, else the pair of passages, that holds a marker-less sentence best: quotations verbatim as written,
    well supported. A pair serves sentences that join two articles ("both reports say ...")."""
    for groups in (
        [[n] for n in range(1, len(evidence) + 1)],
        list(map(list, combinations(range(1, len(evidence) + 1), 2))),
    ):
        best: tuple[_Verdict, list[int]] | None = None
        for group in groups:
            verdict = _evaluate(body, group, evidence)
            if verdict.invented or verdict.repaired or not verdict.supported(min_support):
                continue
            if best is None or verdict.support > best[0].support:
                best = (verdict, group)
        if best is not None:
            return best
    return None


def _append_marker(text: str, numbers: Sequence[int]) -> str:
    """Add `[n]` (or `[n][m]`) at the end of a sentence: before its final stop, or after a closing quotation mark."""
    text = text.rstrip()
    marks = "".join(f"[{n}]" for n in numbers)
    if text[-1:] in ".!?" and text[-2:-1] not in "\"”’'":
        return f"{text[:-1]} {marks}{text[-1]}"
    return f"{text} {marks}"


def _settle(
    draft: _Draft,
    verdict: _Verdict,
    citations: list[int],
    min_support: float,
    drop_unsupported: bool,
    *,
    inherited: bool,
) -> None:
    """Keep or drop the draft according to its verdict, with the reason."""
    if verdict.text is None:
        draft.dropped_reason = verdict.problem
        return
    reasons = []
    if verdict.missing_numbers:
        reasons.append("numbers not in the cited passages: " + ", ".join(verdict.missing_numbers))
    if verdict.support < min_support:
        reasons.append(f"low support: {verdict.support:.2f} of content words in the cited passages (< {min_support})")
    supported = not reasons
    if not supported and drop_unsupported:
        draft.dropped_reason = "; ".join(reasons)
        return
    if verdict.repaired:
        reasons.append(f"repaired {verdict.repaired} quotation(s) to the passage's words")
    if inherited:
        reasons.append("citations borrowed from a neighbouring sentence")
    draft.kept = CheckedSentence(
        text=verdict.text,
        citations=list(citations),
        supported=supported,
        support=round(verdict.support, 3),
        reason="; ".join(reasons),
        inherited=inherited,
        repaired_quotes=verdict.repaired,
    )


def _is_connective(body: str) -> bool:
    """A sentence that only leads into others: no number, no quotation, (almost) no content words."""
    plain = _MARKER_RE.sub(" ", body).strip()
    if _numbers(plain, lenient=False) or quoted_spans(plain):
        return False
    terms = content_terms(plain)
    return not terms or (plain.rstrip("*_ ").endswith(":") and len(terms) <= 3)


def content_terms(text: str) -> set[str]:
    """Stems of the words that carry content; number words become `#n` to meet digits."""
    terms = set()
    for match in _TERM_RE.finditer(text):
        word = match.group().lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word in _NUMBER_WORDS:
            terms.add(f"#{_NUMBER_WORDS[word]}")
        elif len(word) > 1 and word not in _STOPWORDS and word not in _META_WORDS:
            terms.add(_stem(word))
    return terms


def _stem(word: str) -> str:
    """Strip common English inflections so `closed`, `closes` and `closing` meet; crude on purpose, same both sides."""
    for suffix, replacement in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: -len(suffix)] + replacement
            if suffix in ("ing", "ed") and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # stopped -> stop
            break
    for suffix in ("ment", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _numbers(text: str, *, lenient: bool) -> set[str]:
    """Canonical numbers in text: `5%` for percentages, scales multiplied out.

    `lenient` (a passage) also offers each bare value and spelled-out numbers, so a sentence's "12" meets "12 percent"
    or "twelve"; a sentence's numbers must match as written.
    """
    found = set()
    for match in _NUMBER_RE.finditer(text):
        digits = match.group(1).replace(",", "") + (f".{match.group(2)}" if match.group(2) else "")
        try:
            value = Decimal(digits)
        except InvalidOperation:
            continue
        bare = _format_number(value)
        if match.group("pct"):
            found.add(bare + "%")
        elif scale := match.group("scale") or match.group("abbr"):
            found.add(_format_number(value * _SCALES[scale.lower()]))
        else:
            found.add(bare)
        if lenient:
            found.add(bare)
    if lenient:
        for match in _TERM_RE.finditer(text):
            if (word := match.group().lower()) in _NUMBER_WORDS:
                found.add(str(_NUMBER_WORDS[word]))
    return found


def _format_number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- output ------------------------------------------------------------------------------------------------------


def _join(drafts: Sequence[_Draft]) -> str:
    """Put the kept sentences back in the answer's layout; a dropped sentence's line or paragraph break survives it."""
    pieces: list[str] = []
    pending: list[str] = []
    for draft in drafts:
        if draft.kept is None:
            pending.append(draft.unit.sep)
            continue
        sep = max([draft.unit.sep, *pending], key=lambda s: s.count("\n")) if pieces else ""
        pieces.append(sep + draft.unit.prefix + draft.kept.text)
        pending = []
    return "".join(pieces)
