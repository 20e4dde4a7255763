"""Text normalisation and removal of obvious site boilerplate, keeping every line of article text."""

from __future__ import annotations

import re
import unicodedata

# Bump when cleaning changes what ends up in the text: it is hashed into the collection name.
CLEANER_VERSION = "1"

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_BLANKS = re.compile(r"\n{3,}")

# A line is dropped only when it is short and matches one of these: site furniture, never reporting.
_BOILERPLATE = re.compile(
    r"""(
        comments?\s+(section\s+)?(is|are|has\s+been|have\s+been)\s+(closed|disabled|undergoing|being|temporarily|switched)
      | comments?\s+section\s+is
      | dear\s+(visitor|reader)s?,
      | sign\s+up\s+(for|to)\s+(our|the)\b
      | subscribe\s+to\s+(our|the)\s+\w*\s*(newsletter|briefing|channel|podcast)
      | (get|receive)\s+(our|the)\s+\w*\s*newsletter
      | follow\s+us\s+on\b
      | share\s+this\s+(article|story)
      | click\s+here\s+to\b
      | all\s+rights\s+reserved
      | ^\s*(©|\(c\)|copyright\s+(©\s*)?\d{4})
      | ^\s*advertisement\s*$
      | we\s+use\s+cookies
      | download\s+(our|the)\s+app\b
      | ^\s*(read|see)\s+more\s*:
      | ^\s*related\s*:
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_BOILERPLATE_MAX_WORDS = 40


def normalise(text: str) -> str:
    """Return text in NFC with zero-width characters removed, spaces folded and blank lines collapsed."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_BLANKS.sub("\n\n", "\n".join(lines)).strip()


def is_boilerplate(line: str) -> bool:
    """Return True for a short line of site furniture (comment notices, newsletter prompts, copyright)."""
    return len(line.split()) <= _BOILERPLATE_MAX_WORDS and bool(_BOILERPLATE.search(line))


def drop_boilerplate(text: str) -> str:
    """Return text without boilerplate lines; article lines are never touched."""
    kept = [line for line in text.split("\n") if not is_boilerplate(line)]
    return _MANY_BLANKS.sub("\n\n", "\n".join(kept)).strip()


def clean(text: str) -> str:
    """Return the cleaned article text that chunks, offsets and citations refer to."""
    return drop_boilerplate(normalise(text))
