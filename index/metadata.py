"""Article metadata found in the text itself: header blocks, bylines, 'Published in <outlet>, <date>' lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DATE_PATTERNS = [
    re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<m>\d{2})-(?P<day>\d{2})(?P<time>T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?"),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", re.IGNORECASE),
]
_PUBLISHED_IN = re.compile(
    r"^(?:originally\s+)?published\s+(?:in|by|on)\s+(?P<source>[^,\n]{2,60}?)\s*,\s*(?P<date>.{6,40}?)\.?\s*$",
    re.IGNORECASE,
)
_HEADER_KEYS = {
    "title": "title",
    "headline": "title",
    "source": "source",
    "outlet": "source",
    "publication": "source",
    "publisher": "source",
    "date": "published_at",
    "published": "published_at",
    "published_at": "published_at",
    "author": "author",
    "by": "author",
    "byline": "author",
    "url": "url",
    "link": "url",
}
_HEADER_LINE = re.compile(r"^(?P<key>[A-Za-z_]{2,14})\s*:\s*(?P<value>\S.*)$")
_BYLINE = re.compile(r"^by\s+(?P<author>[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3})\s*$", re.IGNORECASE)


@dataclass
class Metadata:
    """Metadata fields; empty string means unknown."""

    title: str = ""
    source: str = ""
    published_at: str = ""
    author: str = ""
    url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def fill(self, other: Metadata) -> None:
        """Fill the fields that are still empty from `other`."""
        for name in ("title", "source", "published_at", "author", "url"):
            if not getattr(self, name) and getattr(other, name):
                setattr(self, name, getattr(other, name))


def parse_date(text: str) -> str:
    """Return the first date in text as ISO 'YYYY-MM-DD' (a full ISO timestamp is kept whole), or ''."""
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            month = int(groups["m"]) if groups.get("m") else _MONTHS[groups["month"].lower().rstrip(".")]
            try:
                day = date(int(groups["year"]), month, int(groups["day"]))
            except ValueError:
                continue
            if groups.get("time"):
                try:
                    return datetime.fromisoformat(match.group(0).replace("Z", "+00:00")).isoformat()
                except ValueError:
                    pass
            return day.isoformat()
    return ""


def days_named(text: str) -> list[tuple[int, int, date]]:
    """Return (start, end, day) for each full date in text ("October 22, 2023", "22 October 2023", "2023-10-22")."""
    found = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            day = parse_date(match.group(0))
            if day:
                found.append((match.start(), match.end(), date.fromisoformat(day[:10])))
    return found


_BEFORE = r"before|prior\s+to|until|earlier\s+than"
_AFTER = r"after|following|later\s+than"
_RELATION = (
    rf"(?:(?P<before>{_BEFORE})|(?P<after>{_AFTER})|(?P<since>since))\s+"
    r"(?:(?:the\s+)?(?:(?P<end>end)|(?P<start>start|beginning))\s+of\s+)?"
)
# "Month YYYY" alone is a month only when the month is capitalised: "may 2023" is more often a verb than a date.
_MONTH_ONLY = re.compile(
    r"\b(?P<month>" + "|".join(sorted((m.capitalize() for m in _MONTHS), key=len, reverse=True)) + r")\.?"
    rf"\s+(?:of\s+)?{_YEAR}\b"
)
_RELATION_BEFORE = re.compile(rf"\b{_RELATION}$", re.IGNORECASE)


def period_named(text: str) -> tuple[date | None, date | None] | None:
    """Return the first time span named in text as (first day, last day), either end open (None), or None.

    "on October 22, 2023" is that day and "in October 2023" the month; "since October 2023" starts on its first day,
    "after October 2023" (following) the day after it, and "before October 2023" (prior to, until) ends the day
    before it, while "before the end of October 2023" ends on its last day.
    """
    found = [(start, end, day, day) for start, end, day in days_named(text)]
    for match in _MONTH_ONLY.finditer(text):
        if any(start <= match.start() < end for start, end, _, _ in found):
            continue
        year, month = int(match.group("year")), _MONTHS[match.group("month").lower()]
        last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        found.append((match.start(), match.end(), date(year, month, 1), last))
    if not found:
        return None
    start, _, first, last = min(found)
    relation = _RELATION_BEFORE.search(text[:start])
    if relation and relation.group("before"):
        return None, last if relation.group("end") else first - timedelta(days=1)
    if relation and relation.group("after"):
        return first if relation.group("start") else last + timedelta(days=1), None
    if relation and relation.group("since"):
        return last if relation.group("end") else first, None
    return first, last


def date_key(published_at: str) -> int:
    """Return the publication day as an int YYYYMMDD for range filters, 0 when unknown."""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", published_at or "")
    return int("".join(match.groups())) if match else 0


def split_header(text: str) -> tuple[Metadata, str]:
    """Split a leading `Key: value` block or YAML front matter from the body; return (metadata, body)."""
    lines = text.split("\n")
    meta = Metadata()
    start = 0
    if lines and lines[0].strip() == "---":
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        except StopIteration:
            return meta, text
        header, start = lines[1:end], end + 1
    else:
        header = []
        for line in lines:
            if not line.strip():
                break
            header.append(line)
        if not header or not all(_is_header_line(line) for line in header):
            return meta, text
        start = len(header)
    for line in header:
        match = _HEADER_LINE.match(line.strip())
        if not match:
            continue
        key = _HEADER_KEYS.get(match["key"].lower())
        value = match["value"].strip().strip("\"'")
        if key == "published_at":
            value = parse_date(value) or value
        if key:
            setattr(meta, key, value)
        else:
            meta.extra[match["key"].lower()] = value
    return meta, "\n".join(lines[start:]).strip()


def _is_header_line(line: str) -> bool:
    match = _HEADER_LINE.match(line.strip())
    return bool(match) and match is not None and match["key"].lower() in _HEADER_KEYS


def take_published_line(text: str) -> tuple[Metadata, str]:
    """Find a 'Published in Dawn, June 27th, 2023' line; return its outlet and date and the text without it."""
    meta = Metadata()
    kept = []
    for line in text.split("\n"):
        match = _PUBLISHED_IN.match(line.strip()) if not meta.source else None
        if match and parse_date(match["date"]):
            meta.source = match["source"].strip()
            meta.published_at = parse_date(match["date"])
            continue
        kept.append(line)
    return meta, "\n".join(kept).strip()


def take_title_and_byline(text: str) -> tuple[Metadata, str]:
    """Take a leading '# Headline' or short unpunctuated first line as title, and a following byline line."""
    meta = Metadata()
    lines = text.split("\n")
    i = 0
    if lines and lines[0].startswith("#"):
        meta.title = lines[0].lstrip("#").strip()
        i = 1
    elif lines and _looks_like_headline(lines[0]) and len(lines) > 1:
        meta.title = lines[0].strip()
        i = 1
    # A short line right below the title may carry the outlet, date and author ("*Ledger — 9 April 2024 — by X*").
    while i < len(lines) and not lines[i].strip():
        i += 1
    if meta.title and i < len(lines):
        line = lines[i].strip().strip("*_").strip()
        if len(line.split()) <= 16 and not line.endswith((".", "?", "!", '"', "”")):
            parts = [p.strip() for p in re.split(r"\s+[—–|-]\s+|\s*\|\s*", line) if p.strip()]
            byline_used = False
            for part in parts:
                if not meta.published_at and parse_date(part):
                    meta.published_at = parse_date(part)
                    byline_used = True
                elif _BYLINE.match(part):
                    meta.author = _BYLINE.match(part)["author"]  # type: ignore[index]
                    byline_used = True
                elif not meta.source and len(part.split()) <= 6:
                    meta.source = part
            if byline_used:
                i += 1
            else:
                meta.source = ""
    return meta, "\n".join(lines[i:]).strip()


def _looks_like_headline(line: str) -> bool:
    line = line.strip()
    return 2 <= len(line.split()) <= 20 and not line.endswith((".", ":", ",", ";", '"', "”")) and line[:1].isupper()


_FILENAME_DATE = re.compile(r"(?:19|20)\d{2}[-_]\d{2}[-_]\d{2}")


def title_from_filename(stem: str, source: str = "") -> tuple[str, str]:
    """Derive (title, iso date) from a file name like 'dawn-2023-06-27-pakistan-demarche'."""
    found = _FILENAME_DATE.search(stem)
    day = parse_date(found.group(0).replace("_", "-")) if found else ""
    rest = _FILENAME_DATE.sub(" ", stem)
    words = [w for w in re.split(r"[-_\s]+", rest) if w]
    if source and words and words[0].lower() == source.lower().replace(" ", ""):
        words = words[1:]
    title = " ".join(words)
    return (title[:1].upper() + title[1:]) if title else stem, day
