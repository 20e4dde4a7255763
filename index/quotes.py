"""Rule-based quote extraction and speaker attribution for news articles.

`extract_statements(text)` finds direct quotes and reported speech and attributes each one to a speaker, resolving
follow-ups such as "he added" or "the minister said" to the right earlier speaker. Standard library only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Statement", "extract_statements", "is_speech_verb", "speaker_matches"]


@dataclass(frozen=True)
class Statement:
    """One attributed statement; `text == article[start:end]`."""

    speaker: str  # full name as the article gives it; for unnamed sources the description ("a senior official")
    role: str  # role/title as the article gives it, "" if none
    kind: str  # "direct" | "reported"
    text: str  # direct: the quoted words without the marks; reported: the reported clause
    start: int
    end: int


# --- word lists -------------------------------------------------------------------------------------------------


def _words(s: str) -> frozenset[str]:
    return frozenset(s.split())


_SAY_VERBS = _words(
    "said says say told tells added adds stated states noted notes stressed stresses emphasised emphasized "
    "emphasises emphasizes warned warns claimed claims argued argues insisted insists maintained maintains "
    "explained explains observed remarked asserted asserts acknowledged acknowledges admitted admits conceded "
    "concedes confirmed confirms announced announces reiterated reiterates underlined underscored suggested "
    "suggests predicted recalled revealed cautioned alleged contended declared disclosed assured replied responded "
    "wrote writes tweeted countered complained complains lamented vowed pledged promised denied denies informed "
    "reminded hinted clarified mentioned testified boasted joked quipped pleaded affirmed"
)
_OBJECT_VERBS = _words(
    "urged urges commended commends praised praises lauded hailed welcomed welcomes criticised criticized "
    "criticises criticizes condemned condemns thanked accused accuses blamed blames expressed expresses conveyed "
    "asked asks requested demanded demands appealed questioned slammed advised encouraged congratulated directed "
    "instructed"
)
# Evaluative verbs report speech only when they carry a quotation ("described the plan as “a betrayal”").
_QUOTE_ONLY_VERBS = _words(
    "described describes termed terms dubbed branded rejected rejects dismissed dismisses labelled labeled called calls"
)
# Verbs whose object is the listener ("told reporters that ...").
_LISTENER_VERBS = _words("told tells assured informed reminded warned briefed promised")
_PARTICIPLES: dict[str, str] = {
    **{
        w: "say"
        for w in "adding saying noting warning stressing insisting claiming arguing explaining emphasising "
        "emphasizing asserting declaring vowing promising denying stating reiterating acknowledging admitting "
        "alleging recalling suggesting confirming announcing cautioning lamenting complaining".split()
    },
    **{
        w: "object"
        for w in "urging blaming accusing demanding asking praising criticising criticizing welcoming "
        "expressing appealing commending condemning".split()
    },
    **{w: "quote" for w in "calling describing terming dismissing rejecting branding dubbing".split()},
}

_PRONOUNS = {"he": "m", "she": "f", "they": "", "it": ""}
_DETERMINERS = _words("the a an one another some its his her their this that these those two three several")
_INDEFINITE = _words("a an one another some two three several")
_HONORIFICS: dict[str, str] = {
    "mr": "m",
    "mrs": "f",
    "ms": "f",
    "miss": "f",
    "sir": "m",
    "dame": "f",
    "lady": "f",
    "lord": "m",
    "begum": "f",
    "dr": "",
    "prof": "",
    "professor": "",
    "advocate": "",
    "barrister": "",
    "engr": "",
    "hon": "",
}
_ROLE_WORDS = _words(
    "spokesperson spokesman spokeswoman minister secretary president vice-president chairman chairwoman chairperson "
    "chair director director-general chief governor mayor ambassador envoy diplomat official officer leader head "
    "adviser advisor commissioner ceo executive manager founder co-founder coordinator negotiator analyst economist "
    "expert professor lecturer researcher scientist lawyer counsel attorney judge justice prosecutor senator mp mna "
    "mpa lawmaker legislator councillor councilor member deputy general commander colonel captain coach selector "
    "superintendent inspector ssp dig igp sho dpo doctor surgeon physician nurse principal vice-chancellor "
    "chancellor dean registrar editor correspondent columnist critic writer author activist campaigner organiser "
    "organizer treasurer administrator magistrate speaker premier candidate cashier shopkeeper farmer trader "
    "resident witness worker student teacher engineer pilot driver owner partner consultant representative aide "
    "assistant attache consul counsellor secretary-general warden king queen prince emir sheriff detective "
    "investigator agent planner architect banker broker businessman businesswoman entrepreneur industrialist "
    "landlord tenant villager volunteer protester demonstrator mother father son daughter wife husband brother "
    "sister relative neighbour neighbor homeowner passenger commuter victim survivor"
)
_ORG_WORDS = _words(
    "ministry department office commission committee council bank party union association federation authority "
    "board agency bureau institute university college school hospital court assembly senate parliament government "
    "embassy consulate corporation company group forum alliance front movement league organisation organization "
    "foundation trust society chamber police army navy force forces service services secretariat cabinet "
    "directorate division network coalition centre center fund programme program watch club industries ltd inc "
    "corp plc airlines airways railways exchange regulator tribunal panel administration municipality "
    "cooperative firm charity watchdog body lender insurer retailer broadcaster carrier "
    "operator developer publisher utility"
)
# An organisation described by one of these ("the firm", "the group") can be any organisation named before.
_GENERIC_ORG_HEADS = _words("firm company organisation organization body group business operator charity outfit")
# Nouns that head a phrase before "said" without naming a speaker.
_NON_SPEAKER_NOUNS = _words(
    "plan bill law rule rules decision move policy budget case deal agreement proposal project scheme figure "
    "figures data number numbers result results survey study poll research analysis review audit inquiry probe "
    "footage video evidence record book film article story campaign strike protest meeting talks step idea issue "
    "problem question answer claim reason fact truth time year day week month"
)
_GROUP_WORDS = _words(
    "officials sources analysts experts residents witnesses diplomats protesters farmers traders workers students "
    "doctors lawyers critics activists observers economists lawmakers legislators leaders members teachers parents "
    "villagers people organisers organizers authorities agents employees staff passengers commuters shopkeepers "
    "locals officers investigators eyewitnesses relatives families insiders executives bankers exporters importers "
    "manufacturers groups unions opposition management police military army government administration "
    "spokespeople representatives campaigners survivors victims neighbours neighbors owners businesses"
)
_MODIFIERS = _words(
    "senior former top chief deputy acting additional assistant vice local provincial federal national regional "
    "state district city municipal foreign interior finance information health education defence defense rival "
    "opposition general executive principal joint special caretaker interim outgoing incoming newly elected "
    "retired prominent leading independent private public central junior associate managing standing"
)
_PREPOSITIONS = _words("of for at in on from with to representing under near outside inside within")
_CLAUSE_WORDS = _words(
    "is was were are am be been being has have had will would could should can may might must did does do not "
    "no never shall there here if then than because although though while when where whether"
)
_DAYS_MONTHS = _words(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december"
)
_PARTICLES = _words("bin ibn al el de da di del van von der ul ud le la dos du")
_NAME_CONNECTORS = _words("of and for & on the")
# Words that start an adverbial between a verb and "that": "said in a statement on Monday that ...".
_ADVERB_STARTS = _PREPOSITIONS | _words("later earlier also again yesterday today repeatedly via during by last this")
_ROLE_NOISE = _words("its his her their as when while after before if because but so then since although")
# Finite verbs that do not end in -ed, for finding where a sentence's subject ends.
_COMMON_VERBS = _words(
    "kept held made gave took met went came is was were are has have had will would won lost sent left began spoke "
    "wrote set put"
)
_ABBREVIATIONS = _words(
    "mr mrs ms dr prof st jr sr no gen lt col capt sgt gov sen rep hon rev vs etc inc ltd co corp jan feb mar apr "
    "jun jul aug sep sept oct nov dec engr fig approx"
)
_ROLE_ACRONYMS = _words("SSP DIG IGP SHO DPO CEO MNA MPA MP DC AC DG MD CFO COO")
_COUNTRIES = frozenset(
    name.lower()
    for name in (
        "Afghanistan Algeria Argentina Australia Austria Azerbaijan Bahrain Bangladesh Belgium Brazil Britain "
        "Canada Chile China Colombia Cuba Denmark Egypt England Ethiopia Finland France Germany Greece Hungary India "
        "Indonesia Iran Iraq Ireland Israel Italy Japan Jordan Kazakhstan Kenya Kuwait Lebanon Libya Malaysia Mexico "
        "Morocco Nepal Netherlands Nigeria Norway Oman Pakistan Palestine Peru Philippines Poland Portugal Qatar "
        "Romania Russia Scotland Serbia Singapore Somalia Spain Sudan Sweden Switzerland Syria Taiwan Tajikistan "
        "Thailand Tunisia Turkey Turkiye Uganda Ukraine Uzbekistan Venezuela Vietnam Wales Yemen Zimbabwe America "
        "Washington Moscow Beijing Delhi Islamabad Kabul Tehran London Paris Berlin Tokyo Kyiv Ankara Riyadh"
    ).split()
)
_MALE_ROLES = _words("spokesman chairman businessman congressman king prince emir father son husband brother lord")
_FEMALE_ROLES = _words("spokeswoman chairwoman businesswoman congresswoman queen princess mother daughter wife sister")
# Common given names, used only to guess which pronoun a speaker takes.
_MALE_NAMES = _words(
    "ahmed ahmad ali asad asif bilal farhan hamid haris hassan hasan imran jawad kamran khalid omar umar rafiq "
    "rashid salman tariq usman yusuf yousuf zubair zafar naveed nadeem shahid shahbaz bashir ghulam anwar akram arif "
    "ijaz ejaz javed irfan faisal fahad waqar waseem saeed sohail tahir zahid mohammad muhammad mohammed abdul "
    "aslam azhar babar danish ehsan fawad hamza junaid kashif mansoor mushtaq nawaz qasim raza rizwan sajid shoaib "
    "talha yasir younis ishaq iqbal khurram mehmood mahmood najam nasir shafqat sharif shehbaz tanveer "
    "john james michael david robert william richard thomas charles daniel matthew mathew mark paul peter andrew "
    "george edward henry martin owen colin alan graham dominic samuel simon stephen steven anthony antony "
    "christopher brian kevin gary ian neil patrick sean tom jack harry oliver benjamin joseph ryan jason eric frank "
    "gordon keith kenneth luke nicholas philip roger ronald scott timothy victor viktor aleksander alexander "
    "alexei ivan dmitri sergei pavel tomasz piotr lars sven erik hans klaus paolo marco luca giovanni carlos jose "
    "juan luis miguel pedro diego pierre jacques francois mehmet ahmet kofi kwame emeka samir karim tarek walid "
    "dev raj rahul amit arjun vikram sanjay ravi anil suresh ramesh rajesh deepak manoj joe joel adam "
    "boris emmanuel hugo jeremy justin keir nigel rishi vladimir xi narendra recep"
)
_FEMALE_NAMES = _words(
    "ayesha aisha fatima zainab maryam sana saima sadia nadia farzana shazia rukhsana mehreen nasreen areeba hina "
    "huma rabia samina shabana uzma amna asma bushra farah kiran mahnoor maria nimra sara sarah sidra tahira zara "
    "zarina mehnaz meher benazir marvi shireen sherry nilofar nighat noor maleeha hira iqra fiona helena helen priya "
    "sofia sophia celia katya bridget ingrid leila layla doreen judith lena mary elizabeth jennifer linda patricia "
    "susan margaret karen nancy lisa betty sandra emily emma olivia jessica anna anne ann catherine kate claire "
    "laura rachel rebecca ruth julia natalia natasha olga irina elena svetlana ewa agnieszka marta ines carmen "
    "lucia isabel giulia francesca chiara marie sophie camille chloe astrid freya hanna hannah greta priyanka "
    "anjali deepa sunita pooja neha kavita meena amara chioma ngozi dorothy joan jane janet diana victoria alice "
    "grace ella amy lucy megan zoe naomi tara nina ursula angela kamala hillary theresa nicola jacinda"
)

_ALL_VERBS = _SAY_VERBS | _OBJECT_VERBS | _QUOTE_ONLY_VERBS | frozenset(_PARTICIPLES)
_VERB_PATTERN = (
    r"(?:call(?:ed|s|ing)\s+(?:on|upon|for)|point(?:ed|s|ing)\s+out|"
    + "|".join(sorted(_ALL_VERBS, key=len, reverse=True))
    + r")"
)
# Verbs that can come before their subject: '“...,” said X' (never 'told X', whose object is the listener).
_INVERTED_VERBS = (
    r"(?:said|says|added|adds|wrote|writes|noted|explained|warned|insisted|recalled|replied|continued|asked|wondered)"
)
_FINITE_VERBS = (
    r"(?:call(?:ed|s)\s+(?:on|upon|for)|point(?:ed|s)\s+out|"
    + "|".join(sorted(_SAY_VERBS | _OBJECT_VERBS | _QUOTE_ONLY_VERBS, key=len, reverse=True))
    + r")"
)
_VERB_RE = re.compile(r"\b" + _VERB_PATTERN + r"\b", re.IGNORECASE)
_ADVERBIAL_RE = re.compile(
    r"\s*,?\s*(?:(?:on|last|this|late|early)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|"
    r"month|year|night|morning|evening|afternoon)(?:\s+(?:night|morning|evening|afternoon))?|"
    r"yesterday|today|tonight|earlier|later|again|also|too|further|separately|repeatedly|publicly|privately|"
    r"recently|previously|then|once|now|however|meanwhile|"
    r"(?:in|at|during|on|via)\s+(?:a|an|the|his|her|its|their)\s+(?:[\w’'-]+\s+){0,4}?(?:statement|release|"
    r"interview|speech|address|tweet|post|letter|message|video|briefing|conference|report|note|notification|"
    r"meeting|rally|event|ceremony|hearing|session|summit|seminar|gathering|talk|talks|programme|show|"
    r"broadcast)(?:\s+(?:in|at|on)\s+(?-i:[A-Z])[\w’'-]*(?:\s+(?-i:[A-Z])[\w’'-]*)*)?|"
    r"by\s+(?:telephone|phone|email|video\s+link)|on\s+condition\s+of\s+anonymity)\b",
    re.IGNORECASE,
)
_TRAILING_SUBJECT_NOISE_RE = re.compile(
    r"(?:\s+(?:also|further|later|earlier|then|again|now|however|meanwhile|separately|yesterday|today|tonight|"
    r"previously|repeatedly|already|once|reportedly|subsequently|has|have|had|too|"
    r"(?:on|last|this)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|week|month|year|night|"
    r"morning|evening|afternoon)(?:\s+(?:night|morning|evening|afternoon))?|"
    r"in\s+(?:a|an|its|his|her|their)\s+(?:[\w-]+\s+){0,2}?(?:statement|interview|letter|tweet|post)))+\s*$",
    re.IGNORECASE,
)
_LEADING_NOISE_RE = re.compile(
    r"^(?:(?:however|but|and|meanwhile|separately|later|earlier|still|also|yet|now|instead|moreover|further|"
    r"furthermore|then|so|thus|nonetheless|nevertheless)\b,?\s*)+",
    re.IGNORECASE,
)
_DOCUMENT_RE = re.compile(
    r"^(?:(?:a|an|the|its|his|her|their)\s+)?(?:[\w’'-]+\s+){0,2}?(?:press\s+release|statement|notification|"
    r"communiqu[ée]|handout|report|letter|notice|circular|document|order|judgment|judgement|ruling|verdict|"
    r"release|tweet|post|filing|declaration|memorandum|memo|manifesto|affidavit|submission|petition)"
    r"(?:\s+(?:(?:issued|released|published|posted|signed|sent|circulated)\s+)?(?:by|from|of)\s+(?P<issuer>.+))?$",
    re.IGNORECASE,
)
_DATELINE_RE = re.compile(r"^[A-Z][A-Z0-9 .,’'/&()-]*[A-Z)]\s*:\s+")
_ANONYMITY_RE = re.compile(
    r"^\s*(?:not\s+to\s+be\s+(?:named|identified)|for\s+anonymity|on\s+condition|"
    r"(?:that\s+)?(?:his|her|their)\s+(?:names?|identity)\b|"
    r"goodbye|good-bye|farewell|hello|grace|a\s+prayer|prayers|thank\s+you)",
    re.IGNORECASE,
)
_CLOSE_MARKS = "”’\"')]"
# What may follow the last quote of a sentence: spaces, final punctuation and closing marks.
_QUOTE_TAIL_RE = re.compile(r"[\s.!?,;:" + re.escape(_CLOSE_MARKS) + r"]*")
_OPEN_MARKS = "“‘\"'("
_EDGE_STRIP = " \t\n,;:"
_MASK = "\u00b7"


# --- quotes and sentences ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Quote:
    start: int  # index of the opening mark
    end: int  # index after the closing mark, or the paragraph end when the quote runs on
    closed: bool

    @property
    def inner_start(self) -> int:
        return self.start + 1

    @property
    def inner_end(self) -> int:
        return self.end - 1 if self.closed else self.end


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(r"[^\n]+", text):
        a, b = m.start(), m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            spans.append((a, b))
    return spans


def _find_double_quotes(text: str, a: int, b: int) -> list[_Quote]:
    quotes: list[_Quote] = []
    open_at: int | None = None
    for i in range(a, b):
        ch = text[i]
        if ch == "“":
            if open_at is None:
                open_at = i
        elif ch == "”":
            if open_at is not None:
                quotes.append(_Quote(open_at, i + 1, True))
                open_at = None
        elif ch == '"':
            if open_at is None:
                if i + 1 < b and not text[i + 1].isspace():
                    open_at = i
            else:
                quotes.append(_Quote(open_at, i + 1, True))
                open_at = None
    if open_at is not None and b - open_at > 1:
        quotes.append(_Quote(open_at, b, False))
    return quotes


def _is_single_opener(text: str, i: int, a: int) -> bool:
    prev_ok = i == a or text[i - 1].isspace() or text[i - 1] in '([{“"—–/'
    if not prev_ok or i + 1 >= len(text) or not text[i + 1].isalnum():
        return False
    # ‘90s and 'em are elisions, not quotes.
    return not re.match(r".\d\ds\b|.em\b|.tis\b|.twas\b", text[i : i + 6])


def _find_single_closer(text: str, i: int, b: int, blocked: list[_Quote]) -> int | None:
    closers = "’'" if text[i] == "‘" else "'"
    fallback: int | None = None
    for j in range(i + 2, b):
        if any(q.start <= j < q.end for q in blocked):
            continue  # a “nested” quote inside this one
        ch = text[j]
        if ch == "‘":
            break  # another quote opens before this one closed
        if ch not in closers or text[j - 1].isspace():
            continue
        if j + 1 < b and text[j + 1].isalnum():
            continue  # an apostrophe inside a word
        # "workers’ union": a plural possessive, unless no better closer follows.
        if text[j - 1] in "sS" and j + 2 < b and text[j + 1] == " " and text[j + 2].islower():
            if fallback is None:
                fallback = j
            continue
        return j
    return fallback


def _find_quotes(text: str, a: int, b: int) -> list[_Quote]:
    doubles = _find_double_quotes(text, a, b)
    singles: list[_Quote] = []
    i = a
    while i < b:
        if text[i] in "‘'" and not any(q.start <= i < q.end for q in doubles) and _is_single_opener(text, i, a):
            j = _find_single_closer(text, i, b, doubles)
            if j is not None:
                singles.append(_Quote(i, j + 1, True))
                i = j + 1
                continue
        i += 1
    spans = sorted(doubles + singles, key=lambda q: (q.start, -q.end))
    kept: list[_Quote] = []
    for q in spans:
        if kept and q.start < kept[-1].end:
            continue  # nested in (or crossing) an earlier quote
        kept.append(q)
    return kept


def _split_sentences(text: str, a: int, b: int, quotes: list[_Quote]) -> list[tuple[int, int]]:
    sentences: list[tuple[int, int]] = []
    start = a
    i = a
    while i < b:
        if text[i] in ".!?":
            j = i + 1
            while j < b and text[j] in _CLOSE_MARKS:
                j += 1
            if j < b and text[j].isspace():
                k = j
                while k < b and text[k].isspace():
                    k += 1
                if k < b and (text[k].isupper() or text[k].isdigit() or text[k] in _OPEN_MARKS):
                    inside = any(q.inner_start <= i and q.end > j for q in quotes)
                    word = re.search(r"([A-Za-z]+)\.?$", text[max(a, i - 12) : i + 1])
                    abbrev = (
                        text[i] == "."
                        and word is not None
                        and (
                            word.group(1).lower() in _ABBREVIATIONS
                            or (len(word.group(1)) == 1 and word.group(1).isupper())
                        )
                    )
                    if not inside and not abbrev:
                        sentences.append((start, j))
                        start = k
                        i = k
                        continue
        i += 1
    if start < b:
        sentences.append((start, b))
    return sentences


# --- entities ---------------------------------------------------------------------------------------------------


@dataclass
class _Entity:
    name: str
    role: str
    kind: str  # "person" | "org" | "group" | "anon" | "name" (a name seen in passing, kept for surname look-ups)
    gender: str = ""
    aliases: set[str] = field(default_factory=set)
    mentioned: int = -1
    spoke: int = -1
    notes: str = ""  # more role words from appositives and relative clauses, used only to resolve descriptors


@dataclass(frozen=True)
class _Ref:
    """A parsed subject phrase, before it is resolved against the entities seen so far."""

    kind: str  # "pronoun" | "person" | "org" | "group" | "anon" | "definite" | "document" | "bare"
    text: str
    role: str = ""
    gender: str = ""
    head: str = ""
    mods: tuple[str, ...] = ()
    alias: str = ""
    issuer: _Ref | None = None


@dataclass
class _Context:
    entities: list[_Entity] = field(default_factory=list)
    clock: int = 0
    last_speaker: _Entity | None = None
    last_speaker_par: int = -10
    prev_subject: _Entity | None = None  # the person the previous sentence was about

    def tick(self) -> int:
        self.clock += 1
        return self.clock


def _word(token: str) -> str:
    """Lower-case a token and strip punctuation and a possessive ending."""
    t = token.strip(".,;:!?()[]“”‘’\"'").lower()
    t = re.sub(r"[’']s$", "", t)
    return t.rstrip("’'")


def _is_role(token: str) -> bool:
    w = _word(token)
    if token.strip(".,;:()") in _ROLE_ACRONYMS:
        return True
    return (
        w in _ROLE_WORDS
        or (w.endswith("s") and w[:-1] in _ROLE_WORDS and len(w) > 3)
        or ("-" in w and w.split("-")[-1] in _ROLE_WORDS)
    )


def _is_singular_role(token: str) -> bool:
    return _word(token) in _ROLE_WORDS or token.strip(".,;:()") in _ROLE_ACRONYMS


def _is_org_word(token: str) -> bool:
    return _word(token) in _ORG_WORDS


def _is_acronym(token: str) -> bool:
    t = token.strip(".,;:()’'")
    return len(t) >= 2 and t.isupper() and t.isalpha()


def _is_cap(token: str) -> bool:
    t = token.lstrip("(“‘\"'")
    return bool(t) and t[0].isupper()


def _is_name_token(token: str) -> bool:
    if not _is_cap(token) or _is_acronym(token):
        return False
    w = _word(token)
    return not (
        _is_role(token)
        or w in _ORG_WORDS
        or w in _HONORIFICS
        or w in _DAYS_MONTHS
        or w in _DETERMINERS
        or w in _GROUP_WORDS
        or not re.search(r"[a-z]", w)
    )


def _gender_of_name(name: str, role: str, honorific: str) -> str:
    if honorific and _HONORIFICS.get(honorific, ""):
        return _HONORIFICS[honorific]
    for w in role.lower().split():
        if w in _MALE_ROLES:
            return "m"
        if w in _FEMALE_ROLES:
            return "f"
    first = _word(name.split()[0]) if name.split() else ""
    if first in _MALE_NAMES:
        return "m"
    if first in _FEMALE_NAMES:
        return "f"
    return ""


def _initials(name: str) -> str:
    return "".join(w[0] for w in name.split() if w[:1].isupper() and _word(w) not in _PARTICLES)


def _lower_first(phrase: str) -> str:
    first, _, rest = phrase.partition(" ")
    if first.lower() in _DETERMINERS or _word(first) in _GROUP_WORDS or _word(first) in _ROLE_WORDS:
        first = first.lower() if not _is_acronym(first) else first
    return f"{first} {rest}".strip()


# --- subject phrases --------------------------------------------------------------------------------------------


def _np_like(tokens: list[str]) -> bool:
    """Whether tokens can form a noun phrase naming a speaker, rather than a clause."""
    unknown = 0
    for t in tokens:
        w = _word(t)
        if not w:
            return False
        if _MASK in t or w in _CLAUSE_WORDS or (t.islower() and w in _ALL_VERBS):
            return False
        if _is_cap(t) or w in _DETERMINERS or w in _MODIFIERS or w in _PARTICLES or w in _PREPOSITIONS:
            continue
        if _is_role(t) or w in _ORG_WORDS or w in _GROUP_WORDS or re.match(r"^[\d,.-]+(?:-\w+)*$", w):
            continue
        if re.match(r"^\d+-year-old$", w) or t.endswith(("’s", "'s", "s’", "s'")):
            continue
        if w in {"and", "&"}:
            continue
        unknown += 1
    return unknown <= 2


def _pp_cut(tokens: list[str]) -> int:
    """Index of the first preposition that starts a complement rather than continuing a proper name."""
    for i, t in enumerate(tokens):
        if i == 0 or t not in _PREPOSITIONS:
            continue
        prev = tokens[i - 1]
        j = i + 1
        if j < len(tokens) and tokens[j].lower() == "the":
            j += 1
        nxt_cap = j < len(tokens) and _is_cap(tokens[j])
        if _is_cap(prev) and (_is_org_word(prev) or _is_singular_role(prev)) and nxt_cap:
            continue  # "Bank of Arden", "Superintendent of Police", "Minister for Water"
        return i
    return len(tokens)


def _org_run(tokens: list[str]) -> list[str]:
    """The trailing run of capitalised words (with connectors) if it names an organisation."""
    run: list[str] = []
    i = len(tokens) - 1
    while i >= 0:
        t = tokens[i]
        word = _is_cap(t) and not (_is_singular_role(t) and not _is_org_word(t)) and _word(t) not in _DETERMINERS
        connector = t.lower() in _NAME_CONNECTORS and bool(run) and i > 0 and _is_cap(tokens[i - 1])
        if not (word or connector):
            break
        run.insert(0, t)
        i -= 1
    while run and run[0].lower() in _NAME_CONNECTORS:
        run.pop(0)
    if not run:
        return []
    if any(_is_org_word(t) for t in run) or (len(run) == 1 and _is_acronym(run[0])):
        return run
    if len(run) == 1 and _word(run[0]) in _COUNTRIES:
        return run
    return []


def _split_name(tokens: list[str]) -> tuple[list[str], list[str], str]:
    """Split 'US State Department spokesperson Mathew Miller' into role tokens, name tokens and an honorific."""
    name: list[str] = []
    i = len(tokens)
    while i > 0:
        t = tokens[i - 1]
        particle = _word(t) in _PARTICLES and bool(name) and i >= 2 and _is_name_token(tokens[i - 2])
        if not (_is_name_token(t) or particle):
            break
        name.insert(0, t)
        i -= 1
    honorific = ""
    if i > 0 and _word(tokens[i - 1]) in _HONORIFICS:
        honorific = _word(tokens[i - 1])
        i -= 1
    role = tokens[:i]
    # "Tim McGraw and Faith Hill": a joint subject; "As the minister ...": a conjunction, not part of the role.
    joint = [k for k, t in enumerate(role) if t.lower() in {"and", "&"} and k >= 2]
    if joint and all(_is_name_token(t) for t in role[joint[-1] - 2 : joint[-1]]):
        role = role[joint[-1] + 1 :]
    while role and (role[0].lower() in _DETERMINERS or role[0].lower() in _ROLE_NOISE):
        role = role[1:]
    return role, name, honorific


def _clean_phrase(phrase: str) -> str:
    p = phrase.strip(_EDGE_STRIP + ".")
    p = _LEADING_NOISE_RE.sub("", p)
    for _ in range(3):
        p = _TRAILING_SUBJECT_NOISE_RE.sub("", p).strip(_EDGE_STRIP)
    return p


def _parse_subject(phrase: str) -> _Ref | None:
    """Parse the phrase before (or after) a speech verb into a reference to a speaker."""
    p = _clean_phrase(phrase)
    alias = ""
    m = re.search(r"\s*\(([A-Z]{2,8})\)", p)
    if m:
        alias = m.group(1)
        p = (p[: m.start()] + p[m.end() :]).strip()
    p = re.split(r",?\s+\b(?:who|whose|which)\b", p)[0].strip(_EDGE_STRIP)
    tokens = p.split()
    if not tokens or len(tokens) > 14:
        return None
    first = tokens[0].lower()
    if len(tokens) == 1 and first in _PRONOUNS:
        return _Ref("pronoun", first, gender=_PRONOUNS[first])
    if first in {"that", "which", "what", "who", "whom", "whose", "there", "i", "we", "you", "this", "these"}:
        return None
    if first in _PREPOSITIONS or re.match(r"^(?:i|you|we|they|it|that|there|he|she)[’'](?:ve|re|ll|d|m|s)$", first):
        return None  # "with some users ...", "You’ve said ...", "It's worth pointing out": not a subject
    doc = _DOCUMENT_RE.match(p)
    if doc:
        issuer = _parse_subject(doc.group("issuer")) if doc.group("issuer") else None
        return _Ref("document", p, issuer=issuer)
    cut = _pp_cut(tokens)
    head, tail = tokens[:cut], tokens[cut:]
    if not head or not _np_like(head) or (tail and not _np_like(tail)):
        return None
    last = head[-1]
    last_w = _word(last)
    org = _org_run(head) if _is_cap(last) else []
    men = len(head) == 1 and last_w.endswith("men")  # "Fishermen", capitalised only because it starts the sentence
    if org or (_is_cap(last) and not _is_role(last) and _word(last) not in _GROUP_WORDS and not men):
        role, name_tokens, honorific = _split_name(head)
        # "Senior Superintendent of Police Khalid Mehmood" is a person; "Bank of Arden" is not.
        person_after_org = (
            len(name_tokens) >= 2 and len(role) > 0 and (_is_org_word(role[-1]) or _is_singular_role(role[-1]))
        )
        if org and not person_after_org:
            return _Ref("org", " ".join(org).strip(_EDGE_STRIP), alias=alias)
        if not name_tokens:
            return None
        name = " ".join(name_tokens).strip(_EDGE_STRIP)
        role_text = " ".join(role).strip(_EDGE_STRIP)
        if role and role[-1].islower() and _word(role[-1]) in _ORG_WORDS | {"group"} and not honorific:
            return _Ref("org", name, role=role_text, alias=alias)  # "rights group Amnesty"
        gender = _gender_of_name(name, role_text, honorific)
        if len(name_tokens) == 1 and not role and not honorific:
            return _Ref("bare", name, gender=gender)
        if first == "the" and not role:
            return _Ref("org", name, alias=alias)  # "the New York Times", "the Kestrel Line": people take no article
        return _Ref("person", name, role=role_text, gender=gender)
    description = _lower_first(" ".join(tokens).strip(_EDGE_STRIP))
    mods = tuple(_word(t) for t in head[:-1] if _word(t) not in _DETERMINERS)
    definite = first not in _INDEFINITE
    has_det = first in _DETERMINERS or first.endswith(("’s", "'s"))
    plural = last_w in _GROUP_WORDS or (
        last_w.endswith("s")
        and not last_w.endswith(("ss", "is", "us"))
        and not _is_role(last)
        and last_w not in _ORG_WORDS | _NON_SPEAKER_NOUNS
    )
    if _is_role(last) and not (last_w.endswith("s") and last_w not in _ROLE_WORDS):
        gender = "m" if last_w in _MALE_ROLES else "f" if last_w in _FEMALE_ROLES else ""
        if definite and (has_det or not tail):
            return _Ref("definite", description, role=last_w, gender=gender, head=last_w, mods=mods)
        return _Ref("anon", description, role=last_w, gender=gender, head=last_w, mods=mods)
    if last_w in _ORG_WORDS and last_w not in _GROUP_WORDS:
        return _Ref("definite" if definite else "org", description, head=last_w, mods=mods)
    if plural or last_w in _GROUP_WORDS or (_is_role(last) and last_w.endswith("s")) or last_w.endswith("men"):
        listed = last_w in _GROUP_WORDS or _is_role(last)
        if len(head) > 4 or (len(head) > 1 and not listed and first not in _DETERMINERS and _is_cap(head[-2])):
            return None  # "Breton continues": a name and a verb, not a group
        return _Ref("group", description, head=last_w, mods=mods)
    if has_det and last.isalpha() and last.islower() and last_w not in _NON_SPEAKER_NOUNS and len(head) <= 5:
        # An unlisted noun in subject position, such as "the employee" or "a biologist".
        return _Ref("definite" if definite else "anon", description, role=last_w, head=last_w, mods=mods)
    return None


# --- resolution -------------------------------------------------------------------------------------------------

_ROLE_CLASSES: list[frozenset[str]] = [
    _words("spokesperson spokesman spokeswoman"),
    _words("chair chairman chairwoman chairperson"),
    _words("diplomat ambassador envoy consul attache"),
    _words("lawmaker legislator mp mna mpa senator member parliamentarian councillor"),
    _words("judge justice magistrate"),
    _words("lawyer counsel advocate attorney"),
    _words("doctor surgeon physician superintendent"),
    _words("analyst expert economist researcher scientist professor academic"),
    _words("executive ceo chief head director"),
    _words("officer official ssp dig igp sho dpo superintendent inspector"),
]
_GENERIC_HEADS = _words("official officer leader politician figure source")
# "X, who chairs the union," gives X a role that "the union chair" can refer back to.
_ROLE_VERBS = {
    "chairs": "chair",
    "heads": "head",
    "leads": "leader",
    "runs": "head",
    "directs": "director",
    "coordinates": "coordinator",
    "manages": "manager",
    "represents": "representative",
    "founded": "founder",
    "owns": "owner",
    "edits": "editor",
    "teaches": "teacher",
}


def _role_tokens(entity: _Entity) -> set[str]:
    tokens = {_word(t) for t in re.split(r"[\s-]+", f"{entity.role} {entity.notes}") if t}
    tokens |= {_ROLE_VERBS[t] for t in tokens if t in _ROLE_VERBS}
    tokens |= {t.lower() for t in entity.role.split() if _is_acronym(t)}
    initials = "".join(w[0] for w in entity.role.split() if w[:1].isupper()).lower()
    if len(initials) >= 2:
        tokens.add(initials)
    return tokens


def _head_matches(head: str, entity: _Entity) -> bool:
    roles = _role_tokens(entity)
    if head in roles or head.rstrip("s") in roles:
        return True
    for cls in _ROLE_CLASSES:
        if head in cls and roles & cls:
            return True
    return head in _GENERIC_HEADS and bool(entity.role) and entity.kind in {"person", "anon"}


class _Resolver:
    def __init__(self) -> None:
        self.ctx = _Context()

    def _by_name(self, name: str, kinds: set[str] | None = None) -> _Entity | None:
        key = name.lower()
        best: _Entity | None = None
        for e in self.ctx.entities:
            if kinds and e.kind not in kinds:
                continue
            if e.name.lower() == key or key in {a.lower() for a in e.aliases}:
                return e
            parts = e.name.lower().split()
            people = e.kind in {"person", "name"}
            surname = people and len(key.split()) < len(parts) and parts[-len(key.split()) :] == key.split()
            if surname and (best is None or e.mentioned > best.mentioned):
                best = e
        return best

    def _add(self, name: str, role: str, kind: str, gender: str = "", alias: str = "") -> _Entity:
        e = _Entity(name=name, role=role, kind=kind, gender=gender)
        if alias:
            e.aliases.add(alias)
        self.ctx.entities.append(e)
        return e

    def _touch(self, e: _Entity) -> _Entity:
        e.mentioned = self.ctx.tick()
        return e

    def person(self, name: str, role: str, gender: str) -> _Entity:
        e = self._by_name(name, {"person", "name"})
        if e is None:
            e = self._add(name, role, "person", gender)
        else:
            e.kind = "person"
            if role:
                _add_role(e, role)
            if gender and not e.gender:
                e.gender = gender
        return self._touch(e)

    def org(self, name: str, alias: str = "", role: str = "") -> _Entity:
        clean = re.sub(r"^(?:the|The)\s+", "", name)
        e = self._by_name(clean)
        if e is None and _is_acronym(clean):
            e = next((x for x in reversed(self.ctx.entities) if x.kind == "org" and _initials(x.name) == clean), None)
        if e is None:
            e = self._add(clean, role, "org", alias=alias)
        elif alias:
            e.aliases.add(alias)
        return self._touch(e)

    def _recent(self, kinds: set[str], speakers_first: bool) -> list[_Entity]:
        pool = [e for e in self.ctx.entities if e.kind in kinds]
        if speakers_first:
            spoke = sorted((e for e in pool if e.spoke >= 0), key=lambda e: -e.spoke)
            rest = sorted((e for e in pool if e.spoke < 0), key=lambda e: -e.mentioned)
            return spoke + rest
        return sorted(pool, key=lambda e: -e.mentioned)

    def _pronoun(self, ref: _Ref) -> _Entity | None:
        if ref.text in {"they", "it"}:
            cands = self._recent({"org", "group"}, speakers_first=True)
            return cands[0] if cands else None
        prev = self.ctx.prev_subject
        if prev is not None and prev.kind in {"person", "anon"} and prev.gender in {ref.gender, ""}:
            return prev
        speakers = [e for e in self._recent({"person", "anon"}, True) if e.spoke >= 0]
        others = [e for e in self._recent({"person", "anon"}, False) if e.spoke < 0]
        for i, e in enumerate(speakers):
            if e.gender == ref.gender or (i == 0 and not e.gender):
                return e
        for e in others:
            if e.gender in {ref.gender, ""}:
                return e
        return next((e for e in speakers if not e.gender), None)

    def _descriptor(self, ref: _Ref) -> _Entity | None:
        is_org = ref.head in _ORG_WORDS
        pool = self._recent({"org"} if is_org else {"person", "anon"}, speakers_first=False)
        mods = [m for m in ref.mods if m and m not in _MODIFIERS and not m.endswith(("’s", "'s"))]

        def fits(e: _Entity) -> bool:
            if is_org:
                words = {_word(w) for w in f"{e.name} {e.role}".split()}
                return ref.head in words or ref.head in _GENERIC_ORG_HEADS
            return _head_matches(ref.head, e)

        def has_mods(e: _Entity) -> bool:
            hay = (e.role + " " + e.name).lower()
            return all(m in hay for m in mods)

        for strict in (True, False):
            for e in pool:
                if fits(e) and (not strict or has_mods(e)):
                    return e
        return None

    def resolve(self, ref: _Ref) -> _Entity | None:
        """Turn a parsed subject into an entity, creating one for a new speaker."""
        if ref.kind == "pronoun":
            e = self._pronoun(ref)
            if e is not None and ref.gender and not e.gender:
                e.gender = ref.gender
            return self._touch(e) if e else None
        if ref.kind == "person":
            return self.person(ref.text, ref.role, ref.gender)
        if ref.kind == "org":
            return self.org(ref.text, ref.alias, ref.role)
        if ref.kind == "bare":
            e = self._by_name(ref.text)
            if e is not None:
                if e.kind == "name":
                    e.kind = "person"
                return self._touch(e)
            if _word(ref.text) in _COUNTRIES:
                return self.org(ref.text)
            return self.person(ref.text, "", ref.gender)
        if ref.kind == "document":
            if ref.issuer is not None:
                return self.resolve(ref.issuer)
            cands = self._recent({"org"}, speakers_first=True) or self._recent({"person", "group", "anon"}, True)
            return self._touch(cands[0]) if cands else None
        if ref.kind == "definite":
            e = self._descriptor(ref)
            if e is not None:
                return self._touch(e)
            name = re.sub(r"^(?:the|The)\s+", "", ref.text)
            kind = "org" if ref.head in _ORG_WORDS else "anon"
            found = self._by_name(name)
            return self._touch(found or self._add(name, "" if kind == "org" else ref.role, kind, ref.gender))
        if ref.kind == "group":
            return self._touch(self._by_name(ref.text) or self._add(ref.text, "", "group"))
        # "anon": a new unnamed speaker, unless the same description was used before.
        found = self._by_name(ref.text, {"anon"})
        return self._touch(found or self._add(ref.text, ref.role, "anon", ref.gender))

    def register_mentions(self, masked: str) -> None:
        """Note people and organisations named in a sentence, so later descriptors can refer back to them."""
        for m in re.finditer(r"(?:[A-Z][\w’'.-]*(?:\s+(?:of|and|for|the|&|bin|al|ul|ud|de|van|von)\b)?\s*)+", masked):
            run = m.group(0).strip()
            if not run:
                continue
            before: list[str] = []
            for t in reversed(masked[: m.start()].split()[-4:]):
                if t.endswith((",", ";", ":")) or not (
                    _is_role(t) or _is_cap(t) or _word(t) in _MODIFIERS or _word(t) in _ORG_WORDS
                ):
                    break
                before.insert(0, t)
            alias_m = re.match(r"\s*\(([A-Z]{2,8})\)", masked[m.end() :])
            ref = _parse_subject(" ".join([*before, run]))
            if ref is None:
                continue
            if ref.kind == "org" and (len(ref.text.split()) > 1 or alias_m or ref.role):
                self.org(ref.text, alias_m.group(1) if alias_m else "", ref.role)
            elif ref.kind == "person":
                first = _word(ref.text.split()[0])
                if ref.role or ref.gender or first in _MALE_NAMES or first in _FEMALE_NAMES or self._by_name(ref.text):
                    self.person(ref.text, ref.role, ref.gender)
                elif m.start() > 0 and len(ref.text.split()) >= 2 and self._by_name(ref.text) is None:
                    # "signed striker Mateo Alvarez": not surely a person, but "Alvarez said" should find him.
                    self._touch(self._add(ref.text, "", "name"))
        for m in re.finditer(
            r"\b(?:the|The)\s+((?:[A-Z][\w’'-]+\s+)+(?:[a-z-]+\s+){0,2}(?:" + "|".join(sorted(_ORG_WORDS)) + r"))\b",
            masked,
        ):
            self.org(m.group(1))


# --- attribution ------------------------------------------------------------------------------------------------


def _add_role(e: _Entity | None, role: str) -> None:
    """Give an entity the role from an appositive; keep extra role words for resolving descriptors."""
    role = re.sub(r"^(?:its|his|her|their)\s+", "", role.strip(_EDGE_STRIP), flags=re.IGNORECASE)
    if e is None or not role or e.kind == "group":
        return
    if not e.role:
        e.role = _lower_first(role)
    elif role.lower() not in e.role.lower():
        e.notes = f"{e.notes} {role}".strip()


def _inverted_subject(subj: str, app: str) -> tuple[_Ref | None, str]:
    """Parse 'said X, a shopkeeper' and 'said the group's biologist, Dr Y': the speaker and the appositive role."""
    app = re.split(r",?\s+\b(?:who|whose|which)\b", app)[0].strip(_EDGE_STRIP)
    ref = _parse_subject(subj)
    app_ref = _parse_subject(app) if app else None
    if app_ref is not None and app_ref.kind in {"person", "bare"} and (ref is None or ref.kind in {"definite", "anon"}):
        return app_ref, subj
    if ref is not None and app_ref is not None and app_ref.kind in {"definite", "anon"}:
        return ref, app
    return ref, ""


def _verb_class(verb: str) -> str:
    v = verb.lower().split()[0]
    if len(verb.split()) > 1:
        return "object"
    if v in _PARTICIPLES:
        return _PARTICIPLES[v]
    if v in _QUOTE_ONLY_VERBS:
        return "quote"
    if v in _OBJECT_VERBS:
        return "object"
    return "say"


_SPLIT_RE = re.compile(
    r"(?:,\s*|\s+)(?:and|but)\s+(?:(?:he|she|they|it)\s+)?(?:also\s+|further\s+|later\s+)?(?P<v1>"
    + _VERB_PATTERN
    + r")\b|,\s*(?:(?:while|before)\s+)?(?P<v2>(?:call(?:ing)\s+(?:on|upon|for)|pointing\s+out|"
    + "|".join(_PARTICIPLES)
    + r"))\b|,\s*who\s+(?:also\s+|later\s+)?(?P<v3>"
    + _VERB_PATTERN
    + r")\b",
    re.IGNORECASE,
)


class _Extractor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.resolver = _Resolver()
        self.out: list[Statement] = []
        self.par = 0
        self.subject: _Entity | None = None  # who the current sentence's statements are by

    # helpers -----------------------------------------------------------------------------------------------------

    def _emit(self, e: _Entity | None, kind: str, a: int, b: int) -> bool:
        if e is None:
            return False
        t = self.text
        while a < b and (t[a].isspace() or t[a] in ",;:—–"):
            a += 1
        while b > a and (t[b - 1].isspace() or t[b - 1] in (",;:—–" if kind == "direct" else ",;:.!?—–")):
            b -= 1
        if b - a < 2 or not re.search(r"\w", t[a:b]):
            return False
        self.out.append(Statement(e.name, e.role, kind, t[a:b], a, b))
        self.subject = self.subject or e
        e.spoke = self.resolver.ctx.tick()
        self.resolver.ctx.last_speaker = e
        self.resolver.ctx.last_speaker_par = self.par
        return True

    def _mask(self, a: int, b: int, quotes: list[_Quote]) -> str:
        chars = list(self.text[a:b])
        for q in quotes:
            for i in range(max(q.start, a), min(q.end, b)):
                chars[i - a] = _MASK
        return "".join(chars)

    def _clause_start(self, masked: str, pos: int, verb: str) -> int:
        """Where the reported clause begins after a verb ending at `pos` in `masked`."""
        v = verb.lower().split()[0]
        rest = masked[pos:]
        offset = 0
        listener = v in _LISTENER_VERBS
        m_that = re.match(r"((?:\s+[^\s,;:" + _MASK + r"]+){0,12}?)\s+that\b", rest)
        if m_that:
            between = m_that.group(1).split()
            adverbial = not between or between[0].lower() in _ADVERB_STARTS
            if listener or adverbial:
                return pos + m_that.end()
        while True:
            m = _ADVERBIAL_RE.match(rest, offset)
            if not m or m.end() == offset:
                break
            offset = m.end()
        if listener:
            m = re.match(
                r"\s+(?:(?:the|a|an)\s+)?(?:[A-Z][\w’'-]*\s*)+(?=\s)|\s+(?:reporters|journalists|newsmen|"
                r"the\s+media|the\s+press|media|lawmakers|the\s+house|the\s+court|the\s+bench|"
                r"the\s+audience|the\s+gathering|supporters|participants|\w+)(?=\s)",
                rest[offset:],
            )
            if m:
                offset += m.end()
                while True:
                    m2 = _ADVERBIAL_RE.match(rest, offset)
                    if not m2 or m2.end() == offset:
                        break
                    offset = m2.end()
        particle = re.match(r"\s+(?:on|upon|for)\b", rest[offset:]) if v in {"called", "calls", "calling"} else None
        if particle:
            offset += particle.end()
        m = re.match(r"\s*,?\s*that\b", rest[offset:])
        if m:
            offset += m.end()
        return pos + offset

    def _pieces(self, masked: str, a: int, b: int, verb: str) -> list[tuple[int, int, str]]:
        """Split a reported clause [a, b) of `masked` at 'and added that', ', adding that' and the like."""
        pieces: list[tuple[int, int, str]] = []
        cur_start, cur_verb = a, verb
        for m in _SPLIT_RE.finditer(masked, a, b):
            v = m.group("v1") or m.group("v2") or m.group("v3") or ""
            if m.start() < cur_start:
                continue
            pieces.append((cur_start, m.start(), cur_verb))
            cur_start, cur_verb = self._clause_start(masked, m.end(), v), v
        pieces.append((cur_start, b, cur_verb))
        return pieces

    def _emit_reported(self, e: _Entity | None, s0: int, masked: str, pieces: list[tuple[int, int, str]]) -> bool:
        emitted = False
        for a, b, verb in pieces:
            segment = masked[a:b]
            if _verb_class(verb) == "quote" and _MASK not in segment:
                continue
            if _ANONYMITY_RE.match(segment):
                continue
            emitted = self._emit(e, "reported", s0 + a, s0 + b) or emitted
        return emitted

    def _sentence_end(self, masked: str) -> int:
        b = len(masked)
        while b > 0 and (masked[b - 1].isspace() or masked[b - 1] in ".!?"):
            b -= 1
        return b

    # sentence patterns -------------------------------------------------------------------------------------------

    def _subject_left(self, masked: str, vstart: int) -> tuple[_Ref | None, str]:
        """Parse the subject to the left of a verb starting at `vstart`; also return the appositive role."""
        left = masked[:vstart].rstrip()
        left = _TRAILING_SUBJECT_NOISE_RE.sub("", left).rstrip()
        if re.search(r"\b(?:was|were|is|are|been|being|be|to|get|got|what\s+\S+)$", left, re.IGNORECASE):
            return None, ""
        if left.endswith(","):
            segments = [s.strip() for s in re.split(r",(?=\s)", left[:-1])]
            role = ""
            for idx in range(len(segments) - 1, -1, -1):
                seg = segments[idx]
                low = seg.lower()
                rel = re.match(r"^who\s+(\w+)\s+\S", low)
                if rel and rel.group(1) in _ROLE_VERBS and not role:
                    role = seg[4:].strip()
                if not seg or re.match(r"^(?:who|whose|which|whom|where)\b", low) or re.match(r"^\w+ing\s+[a-z]", seg):
                    continue
                if (
                    re.match(r"^(?:aged\s+)?\d+$", low)
                    or _ADVERBIAL_RE.fullmatch(seg)
                    or low in {"however", "meanwhile"}
                ):
                    continue
                if re.match(r"^(?:asked|appearing|speaking|writing|addressing|talking)\b", low):
                    continue
                ref = _parse_subject(seg)
                if ref is None:
                    return None, ""
                if ref.kind in {"definite", "anon"} and idx > 0 and not role:
                    prev = _parse_subject(segments[idx - 1])
                    if prev is not None and prev.kind in {"person", "bare", "org"}:
                        role = seg
                        continue
                if ref.kind in {"person", "bare"} and not role and idx > 0:
                    prev = _parse_subject(segments[idx - 1])
                    if prev is not None and prev.kind in {"definite", "anon"}:
                        role = _lower_first(segments[idx - 1])
                return ref, role
            return None, ""
        boundary = 0
        for m in re.finditer(
            r"[,;:—–"
            + _MASK
            + r"]|\((?![A-Z]{2,8}\))|\b(?:but|while|as|when|because|although|after|before|since|whereas|which|whom|"
            r"that|if|where|by)\b|\band\b",
            left,
            re.IGNORECASE,
        ):
            if m.group(0).lower() == "and":
                before, after = left[: m.start()].split(), left[m.end() :].split()
                if before and after and _is_cap(before[-1]) and _is_cap(after[0]):
                    continue
            boundary = m.end()
        subject = left[boundary:]
        if not subject.strip():
            return None, ""
        return _parse_subject(subject), ""

    def _main_subject(self, masked: str, upto: int) -> _Ref | None:
        """The subject of the sentence's main clause, for a participle such as ', saying ...'."""
        head = masked[:upto]
        m = re.match(
            r"^(?:(?:when|as|after|while|in|at|on|during|following|speaking|addressing|asked)\b[^,]*,\s*)?",
            head,
            re.IGNORECASE,
        )
        start = m.end() if m and _parse_subject(head[: m.end()]) is None else 0
        # Verbs inside ', who ... ,' or ', whose ... ,' belong to the relative clause, not the main clause.
        relative = [(r.start(), r.end()) for r in re.finditer(r",\s*(?:who|whose|which)\b[^,]*,", head)]
        for vm in re.finditer(r"\b([a-z][a-z-]+)\b", head[start:]):
            w = vm.group(1)
            pos = start + vm.start()
            if any(a <= pos < b for a, b in relative) or w in _MODIFIERS or w in _ROLE_WORDS:
                continue
            if w.endswith("ed") or w in _COMMON_VERBS:
                ref, _ = self._subject_left(head, pos)
                return ref
        return None

    def _quote_first(self, s0: int, masked: str, qs: list[_Quote]) -> bool:
        """'“...,” he said.' and '“...,” said X, a shopkeeper.' and a quote standing alone."""
        q = qs[0]
        qe = q.end - s0
        tail = masked[qe:]
        m = re.match(
            r"^\s*,?\s*(?P<subj>[^,;:" + _MASK + r"]{1,80}?)\s+(?:also\s+|later\s+)?(?P<verb>" + _FINITE_VERBS + r")\b",
            tail,
            re.IGNORECASE,
        )
        ref: _Ref | None = None
        after = 0
        role = ""
        verb = ""
        if m:
            ref = _parse_subject(m.group("subj"))
            after, verb = qe + m.end(), m.group("verb")
        if ref is None:
            m = re.match(
                r"^\s*,?\s*(?P<verb>"
                + _INVERTED_VERBS
                + r")\s+(?P<subj>[^,;:.!?"
                + _MASK
                + r"]+?)(?:,\s*(?P<app>[^;"
                + _MASK
                + r"]+?))?\s*(?=[.!?;]?\s*$|,\s*who\b|,\s*"
                + _MASK
                + ")",
                tail,
                re.IGNORECASE,
            )
            if m:
                ref, role = _inverted_subject(m.group("subj"), m.group("app") or "")
                after, verb = qe + m.end(), m.group("verb")
        if ref is None:
            if _QUOTE_TAIL_RE.fullmatch(tail):
                ctx = self.resolver.ctx
                if ctx.last_speaker is not None and ctx.last_speaker_par >= self.par - 1:
                    return self._emit(ctx.last_speaker, "direct", q.inner_start, q.inner_end)
            return False
        e = self.resolver.resolve(ref)
        if ref.kind in {"person", "bare", "org"}:
            _add_role(e, role)
        if not self._emit(e, "direct", q.inner_start, q.inner_end):
            return False
        self._after_attribution(e, s0, masked, after, qs[1:], verb)
        return True

    def _after_attribution(
        self, e: _Entity | None, s0: int, masked: str, pos: int, rest: list[_Quote], verb: str
    ) -> None:
        """Handle what follows an attribution: another quote, or ', adding that ...'."""
        for q in rest:
            gap = masked[pos : q.start - s0]
            adjacent = q.start - s0 >= pos and re.fullmatch(r"[\s,;:—–]*(?:and\s+)?", gap)
            if adjacent and _QUOTE_TAIL_RE.fullmatch(masked[q.end - s0 :]):
                self._emit(e, "direct", q.inner_start, q.inner_end)
                return
        end = self._sentence_end(masked)
        m = _SPLIT_RE.search(masked, pos, end)
        if m and not masked[pos : m.start()].strip(" ,.;:"):
            v = m.group("v1") or m.group("v2") or m.group("v3") or ""
            start = self._clause_start(masked, m.end(), v)
            self._emit_reported(e, s0, masked, self._pieces(masked, start, end, v))

    def _trailing(self, s0: int, masked: str, body: int) -> bool:
        """'CLAUSE, the minister said.', 'CLAUSE, said X.' and 'CLAUSE, according to X.'"""
        end = self._sentence_end(masked)
        candidates: list[tuple[int, int, _Ref, str]] = []
        for m in re.finditer(
            r",\s*according\s+to\s+(?P<subj>[^,;" + _MASK + r"]+?)\s*(?=,|$)", masked[:end], re.IGNORECASE
        ):
            ref = _parse_subject(m.group("subj"))
            if ref is not None:
                candidates.append((m.start(), m.end(), ref, "said"))
        for m in re.finditer(
            r",\s*(?P<subj>[^,;:" + _MASK + r"]{1,80}?)\s+(?:also\s+)?(?P<verb>" + _VERB_PATTERN + r")\b",
            masked[:end],
            re.IGNORECASE,
        ):
            if _verb_class(m.group("verb")) not in {"say"} or m.group("verb").lower() in _PARTICIPLES:
                continue
            ref = _parse_subject(m.group("subj"))
            if ref is None:
                continue
            stop = m.end()
            while True:
                am = _ADVERBIAL_RE.match(masked, stop)
                if not am or am.end() == stop or am.end() > end:
                    break
                stop = am.end()
            if m.group("verb").lower() in {"told", "tells"}:
                lm = re.match(r"\s+(?:(?:the|a|an)\s+)?(?:[A-Z][\w’'-]*\s*)+|\s+\w+", masked[stop:end])
                stop += lm.end() if lm else 0
            after = masked[stop:end]
            if after.strip() and not _SPLIT_RE.match(masked, stop):
                continue  # not at a clause end: 'X said the plan, which ...'
            candidates.append((m.start(), stop, ref, m.group("verb")))
        for m in re.finditer(
            r",\s*(?P<verb>" + _INVERTED_VERBS + r")\s+"
            r"(?P<subj>[^,;" + _MASK + r"]+?)(?:,\s*(?P<app>[^;" + _MASK + r"]+?))?\s*$",
            masked[:end],
            re.IGNORECASE,
        ):
            app = m.group("app") or ""
            ref, _ = _inverted_subject(m.group("subj"), app)
            if ref is not None:
                who = re.search(r"\bwho\s+(?:also\s+)?(" + _VERB_PATTERN + r")\b", app, re.IGNORECASE)
                stop = m.start("app") - 2 if who and m.start("app") >= 0 else m.end()
                candidates.append((m.start(), stop, ref, m.group("verb")))
        if not candidates:
            return False
        cstart, cstop, ref, verb = min(candidates, key=lambda c: c[0])
        if not masked[body:cstart].strip():
            return False
        e = self.resolver.resolve(ref)
        if e is None:
            return False
        if _SPLIT_RE.match(masked, cstop) or not masked[cstop:end].strip():
            self._emit(e, "reported", s0 + body, s0 + cstart)
            self._after_attribution(e, s0, masked, cstop, [], verb)
        else:
            self._emit(e, "reported", s0 + body, s0 + end)  # parenthetical: 'The plan, he said, would fail.'
        return True

    def _anchors(self, s0: int, masked: str, body: int, qs: list[_Quote]) -> bool:
        """'X said (that) ...', 'X said: “...”', 'X urged ...', 'X ..., saying ...'."""
        end = self._sentence_end(masked)
        m = re.match(r"^\s*according\s+to\s+(?P<subj>[^,;" + _MASK + r"]+?),\s*", masked[body:], re.IGNORECASE)
        source = _parse_subject(m.group("subj")) if m else None
        if m and source is not None:
            return self._emit(self.resolver.resolve(source), "reported", s0 + body + m.end(), s0 + end)
        matches = list(_VERB_RE.finditer(masked, body, end))
        for idx, vm in enumerate(matches):
            verb = vm.group(0)
            low = verb.lower().split()[0]
            if low in {"asked", "asks"} and re.search(r"(?:,|\bwhen|\bif|\bwas|\bwere)\s*$", masked[: vm.start()]):
                continue
            ref: _Ref | None
            role = ""
            if low in _PARTICIPLES:
                if not re.search(r"(?:,|\b(?:statement|release|letter|post|tweet))\s*$", masked[: vm.start()]):
                    continue
                ref = self._main_subject(masked, vm.start())
            else:
                left = masked[: vm.start()].rstrip()
                who = re.search(r",\s*who(?:\s+(?:also|later))?$", left)
                if who:
                    # 'X, who asked not to be named, said ...': the relative clause belongs to a later verb's subject.
                    if any(_parse_subject(masked[body : x.start()]) for x in matches[idx + 1 :]):
                        continue
                    ref, _ = self._subject_left(masked, who.start())
                    if ref is None:
                        seg = masked[: who.start()]
                        tail_np = re.search(r"((?:[A-Z][\w’'-]*\s*)+)$", seg)
                        ref = _parse_subject(tail_np.group(1)) if tail_np else None
                else:
                    ref, role = self._subject_left(masked, vm.start())
                    passive = re.search(r"\b(?:was|were|is|are|been|being)\s+\w+(?:ed|en)\b", left)
                    if ref is None and re.search(r"\band\s*$", left) and not passive:
                        # 'Police released footage and asked the public ...' shares the sentence's subject.
                        ref = self._main_subject(masked, vm.start())
            if ref is None:
                continue
            start = self._clause_start(masked, vm.end(), verb)
            if _ANONYMITY_RE.match(masked[vm.end() :]):
                continue
            e = self.resolver.resolve(ref)
            if e is None:
                continue
            if ref.kind in {"person", "bare", "org"}:
                _add_role(e, role)
            if start >= end or (masked.rstrip().endswith(":") and not any(q.start - s0 >= start for q in qs)):
                # 'She described the scene:' introduces a quote in the next paragraph.
                self.subject = e
                self.resolver.ctx.last_speaker = e
                self.resolver.ctx.last_speaker_par = self.par
                return False
            lead = re.match(r"[\s:,—–]*", masked[start:end])
            qstart = start + (lead.end() if lead else 0)
            q = next((x for x in qs if x.start - s0 == qstart), None)
            if q is not None and _QUOTE_TAIL_RE.fullmatch(masked[q.end - s0 :]):
                return self._emit(e, "direct", q.inner_start, q.inner_end)
            return self._emit_reported(e, s0, masked, self._pieces(masked, start, end, verb))
        return False

    def sentence(self, s0: int, s1: int, quotes: list[_Quote], first_in_par: bool) -> None:
        qs = [q for q in quotes if s0 <= q.start < s1]
        masked = self._mask(s0, s1, qs)
        body = 0
        if first_in_par:
            d = _DATELINE_RE.match(masked)
            if d:
                body = d.end()
        lead = _LEADING_NOISE_RE.match(masked[body:])
        if lead and lead.group(0).rstrip().endswith(","):
            body += lead.end()
        self.resolver.register_mentions(masked[body:])
        self.subject = None
        self._attribute(s0, s1, masked, body, qs)
        self.resolver.ctx.prev_subject = self.subject or self._known_subject(masked[body:])

    def _attribute(self, s0: int, s1: int, masked: str, body: int, qs: list[_Quote]) -> None:
        ws = len(masked[body:]) - len(masked[body:].lstrip())
        if qs and qs[0].start - s0 == body + ws:
            if self._quote_first(s0, masked, qs):
                return
            if qs[0].end >= s1 - 2:
                return
        if self._trailing(s0, masked, body):
            return
        self._anchors(s0, masked, body, qs)

    def _known_subject(self, masked: str) -> _Entity | None:
        """The already-known person a sentence without statements is about, e.g. 'Councillor X voted against'."""
        ref = self._main_subject(masked, len(masked))
        if ref is None:
            return None
        if ref.kind in {"person", "bare"}:
            return self.resolver._by_name(ref.text, {"person"})
        if ref.kind == "pronoun" and ref.gender:
            return self.resolver._pronoun(ref)
        return None

    def run(self) -> list[Statement]:
        for p_idx, (a, b) in enumerate(_paragraphs(self.text)):
            self.par = p_idx
            quotes = _find_quotes(self.text, a, b)
            for s_idx, (s0, s1) in enumerate(_split_sentences(self.text, a, b, quotes)):
                self.sentence(s0, s1, quotes, s_idx == 0)
        return self.out


def extract_statements(text: str) -> list[Statement]:
    """Find direct quotes and reported speech in an article and attribute each to its speaker."""
    return _Extractor(text).run()


# --- matching ---------------------------------------------------------------------------------------------------

_MATCH_STOPWORDS = _words("a an the one another of mr mrs ms miss dr prof professor sir dame lady lord begum")


def _match_tokens(name: str) -> list[str]:
    s = name.replace("’", "'").lower().strip()
    # "Bilal Shah's spokesman" and "a spokesman for Bilal Shah" are the spokesman, not Bilal Shah.
    poss = re.match(r"^(?:.*\s)?[\w.-]+'s\s+(.+)$", s)
    if poss and _word(poss.group(1).split()[-1]) in _ROLE_WORDS | _ORG_WORDS | _GROUP_WORDS:
        s = poss.group(1)
    comp = re.match(
        r"^((?:(?:a|an|the|one)\s+)?(?:[\w-]+\s+){0,3}?[\w-]+)\s+(?:for|of|to|representing|on\s+behalf"
        r"\s+of|at|in|from)\s+",
        s,
    )
    if comp and _word(comp.group(1).split()[-1]) in _ROLE_WORDS | _GROUP_WORDS:
        s = comp.group(1)
    tokens = re.findall(r"[a-z0-9]+(?:[-'][a-z0-9]+)*", s)
    return [re.sub(r"'s$", "", t) for t in tokens if t not in _MATCH_STOPWORDS]


def _skeleton(word: str) -> str:
    rest = re.sub(r"[aeiouy]", "", word[1:])
    return re.sub(r"(.)\1+", r"\1", word[0] + rest)


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _close(a: str, b: str) -> bool:
    if a == b or (a.rstrip("s") == b.rstrip("s") and min(len(a), len(b)) > 3):
        return True
    if min(len(a), len(b)) < 4 or a[0] != b[0]:
        return False
    d = _edit_distance(a, b)
    return (d <= 1 and min(len(a), len(b)) >= 5) or (_skeleton(a) == _skeleton(b) and d <= 2)


def _acronym_of(short: str, name: str) -> bool:
    return len(short) >= 2 and short.upper() == _initials(name.replace("’", "'")).upper()


def speaker_matches(query: str, speaker: str) -> bool:
    """Whether `query` ("Miller", "Matthew Miller", "the FO") names `speaker`; tolerant of spelling and case."""
    q, s = _match_tokens(query), _match_tokens(speaker)
    if not q or not s:
        return False
    if all(any(_close(a, b) for b in s) for a in q):
        return True
    q_raw = [t for t in re.findall(r"[A-Za-z]+", query) if t.lower() not in _MATCH_STOPWORDS]
    s_raw = [t for t in re.findall(r"[A-Za-z]+", speaker) if t.lower() not in _MATCH_STOPWORDS]
    return (len(q_raw) == 1 and _acronym_of(q_raw[0], speaker)) or (len(s_raw) == 1 and _acronym_of(s_raw[0], query))


def is_speech_verb(word: str) -> bool:
    """Whether `word` introduces speech the way the extractor counts it ("said", "commended", "adding")."""
    return word.lower() in _ALL_VERBS
