"""Search: a worker's question in, ranked rules out.

Workers type short, colloquial, typo-ridden questions on phones. The pipeline:

1. :func:`~policies_kb._text.normalize_for_search` (traditional → simplified, full-width → half-width, lower case) and
   punctuation removed;
2. worker's words from ``synonyms.yaml`` found in the question become *alternatives* ("工钱" matches a rule that says
   "工资"): one query unit whose match is the best of its alternatives (and whose weight, when no rule uses the
   worker's word itself, is an unknown word's);
3. jieba search-mode words **plus** character bigrams of every CJK run: bigrams still match when a typo or an
   unknown word breaks jieba's segmentation ("创业担保货款" keeps 创业, 担保, 保货…, and 创业担保 matches);
4. a character bigram of the question that no rule contains is *repaired*: rule bigrams that sound the same
   (pinyin without tones, with the fuzzy pairs of pinyin keyboards folded: z/zh, c/ch, s/sh, in/ing, en/eng) or
   differ by a look-alike character (``lookalike_chars`` in ``synonyms.yaml``: 贷/货), in one of the two characters,
   become its alternatives, so "落护" matches 落户, "社宝" 社保 and "货款" 贷款. Only bigrams no rule contains are
   repaired (a real word is never second-guessed), and a repaired bigram weighs what an unknown one does: repair
   can raise a rule that contains the intended word, never sink the others;
5. fielded BM25 over title and questions (weight 3) and answer (weight 1).
6. a rule published for one city or county (its ``scope``) loses :data:`LOCAL_SCOPE_PENALTY` when the question does
   not name that place, so a region-wide question is answered by the region's rule, not by one county's figures.

**Score.** A hit's score is the BM25 score divided by the largest score the question could reach (every query
unit fully saturated): the idf-weighted share of the question that the rule covers, in [0, 1). It is comparable
across questions, unlike raw BM25, and does not depend on the other rules returned. Filler (请问, 怎么办, 我) is a
stop word and counts for nothing; words no rule uses still count, at reduced weight, so a question about something
the knowledge base does not cover scores low. :data:`MIN_CONFIDENT_SCORE` is the threshold below which the bot
should say it is not sure (measured on ``bench/kb_questions``; see ``bench/kb_search.py``).

**Topic.** ``topic=`` *restricts* the search to that topic (a filter, not a boost).

**jieba.** The package uses its own ``jieba.Tokenizer`` (never the global one that Rasa's JiebaTokenizer
configures), built once per process. Its dictionary is ``search_dict.txt``: the words of jieba's main dictionary
that occur in the rules or synonyms, with their original frequencies, so rule text segments as with the full
dictionary but initialisation takes milliseconds instead of a second. Rebuild it after large content changes with
``python -m policies_kb build-search-dict``; a stale dictionary only degrades gracefully (new words fall back to
jieba's HMM and to bigrams).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from policies_kb._schema import Rule
from policies_kb._text import cjk_runs, is_cjk, normalize_for_search, strip_punctuation

__all__ = [
    "MIN_CONFIDENT_SCORE",
    "SearchHit",
    "SearchIndex",
    "Synonyms",
    "load_synonyms",
    "get_tokenizer",
    "build_search_dict",
]

PACKAGE_DIR = Path(__file__).resolve().parent
SYNONYMS_PATH = PACKAGE_DIR / "synonyms.yaml"
SEARCH_DICT_PATH = PACKAGE_DIR / "search_dict.txt"

#: Below this score the top hit is not a confident answer: the bot should ask to rephrase or offer 0951-12333.
MIN_CONFIDENT_SCORE = 0.35

FIELD_WEIGHTS = {"title": 3.0, "questions": 3.0, "answer": 1.0}
WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
CROSS_BIGRAM_WEIGHT = 0.15
SINGLE_CHAR_WEIGHT = 0.3
# A query term that no rule contains weighs this share of the rarest seen term's idf: it still lowers the score
# (the question is partly about something else) without letting one odd word sink a good match.
UNSEEN_WEIGHT = 0.5
# The score's denominator is at least this much query weight (about two distinctive words): a question with almost
# no content ("你好", "咋办") cannot reach a confident score by matching its one word.
MIN_QUERY_WEIGHT = 6.0
BM25_K1 = 1.2
BM25_B = 0.5
# A rule's score blends its BM25 share (over all its text) with its best single passage (title or one question):
# a question that reads like one phrasing of a rule beats one that matches words spread over a long answer.
PASSAGE_SHARE = 0.2
# A rule published for one city or county (``scope: 海原县``) loses this much score when the question does not name
# that place: "考技能证补多少" asks about the whole region, and the Haiyuan figures must not answer it in place of the
# region's rule (issue 11 §5: nothing from a county is stated for the whole region). Alone, it is still found.
LOCAL_SCOPE_PENALTY = 0.05
_BROAD_SCOPES = frozenset({"national", "ningxia"})
_PLACE_SUFFIXES = re.compile(r"(回族自治县|自治县|市|县|区|镇)$")

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SearchHit:
    """One ranked result: the rule, its score in [0, 1] and the query terms it matched.

    ``superseded`` is the expired rule the question matched when ``rule`` is that rule's successor in force on the
    search day (say what changed: ``superseded.change_note``); None for an ordinary hit.
    """

    rule: Rule
    score: float
    matched_terms: list[str]
    superseded: Rule | None = None

    def to_dict(self) -> dict:
        """The hit as JSON-ready data (the rule's id, title and citation, not the whole rule)."""
        return {
            "id": self.rule.id,
            "title": self.rule.title,
            "score": round(self.score, 4),
            "matched_terms": list(self.matched_terms),
            "citation": self.rule.citation(),
            "superseded": self.superseded.id if self.superseded is not None else None,
        }


# ---------------------------------------------------------------------------------------------------------------
# Synonyms and stop words (data: synonyms.yaml)


@dataclasses.dataclass(frozen=True)
class Synonyms:
    """Worker's phrase → the words rules use; stop words; characters that break bigrams."""

    phrases: Mapping[str, tuple[str, ...]]
    stopwords: frozenset[str]
    bigram_stop_chars: frozenset[str] = frozenset()
    lookalike_groups: tuple[str, ...] = ()

    @functools.cached_property
    def longest_first(self) -> list[str]:
        return sorted(self.phrases, key=len, reverse=True)


def load_synonyms(path: Path = SYNONYMS_PATH) -> Synonyms:
    """Read ``synonyms.yaml``: ``synonyms: {worker phrase: [rule word, ...]}`` and ``stopwords: [...]``."""
    from policies_kb._loader import parse_yaml

    data, errors = parse_yaml(path.read_text(encoding="utf-8"), str(path)) if path.exists() else ({}, [])
    if errors:
        raise ValueError("; ".join(map(str, errors)))
    data = data or {}
    phrases = {}
    for phrase, targets in (data.get("synonyms") or {}).items():
        targets = [targets] if isinstance(targets, str) else list(targets)
        key = strip_punctuation(normalize_for_search(str(phrase))).replace(" ", "")
        phrases[key] = tuple(strip_punctuation(normalize_for_search(t)).replace(" ", "") for t in targets)
    stopwords = frozenset(normalize_for_search(str(word)) for word in data.get("stopwords") or ())
    stop_chars = frozenset(normalize_for_search(str(data.get("bigram_stop_chars") or "")))
    lookalikes = tuple(normalize_for_search(str(group)) for group in data.get("lookalike_chars") or ())
    return Synonyms(phrases, stopwords, stop_chars, lookalikes)


# ---------------------------------------------------------------------------------------------------------------
# jieba, once per process

_tokenizer_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _tokenizer_for(dictionary: str | None):
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer(dictionary) if dictionary else jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def get_tokenizer(dictionary: Path | None = None):
    """The package's private jieba tokenizer (created on first use, then shared by every index in the process).

    Uses ``search_dict.txt`` when it exists, else jieba's full dictionary (about a second to initialise).
    """
    if dictionary is None and SEARCH_DICT_PATH.exists():
        dictionary = SEARCH_DICT_PATH
    with _tokenizer_lock:
        return _tokenizer_for(str(dictionary) if dictionary else None)


# ---------------------------------------------------------------------------------------------------------------
# Terms


def _weight_of(term: str, is_word: bool) -> float:
    if len(term) == 1:
        return SINGLE_CHAR_WEIGHT
    return WORD_WEIGHT if is_word else BIGRAM_WEIGHT


def extract_terms(text: str, tokenizer, synonyms: Synonyms) -> dict[str, float]:
    """Search terms of ``text`` (already normalised and stripped of punctuation), each with its kind weight:
    jieba search-mode words (1.0; single characters 0.3) and CJK character bigrams (0.5), stop words left out.
    A bigram that is also a word keeps the word's weight. A bigram that straddles two words jieba found, one of
    them longer than a character ("险转" in 保险|转移), is mostly noise and weighs :data:`CROSS_BIGRAM_WEIGHT`."""
    stopwords, stop_chars = synonyms.stopwords, synonyms.bigram_stop_chars
    terms: dict[str, float] = {}
    for chunk in text.split():
        for word in tokenizer.cut_for_search(chunk):
            word = word.strip()
            if not word or word in stopwords:
                continue
            weight = _weight_of(word, True)
            if weight > terms.get(word, 0.0):
                terms[word] = weight
        word_at = _word_lengths_by_position(chunk, tokenizer)
        offset = 0
        for run in cjk_runs(chunk):
            offset = chunk.index(run, offset)
            for i in range(len(run) - 1):
                bigram = run[i : i + 2]
                if bigram in stopwords or bigram[0] in stop_chars or bigram[1] in stop_chars:
                    continue  # 欠我, 我工: junk across a function word
                left, right = word_at[offset + i], word_at[offset + i + 1]
                straddles = left[0] != right[0] and max(left[1], right[1]) > 1
                terms.setdefault(bigram, CROSS_BIGRAM_WEIGHT if straddles else BIGRAM_WEIGHT)
            offset += len(run)
    return terms


def _word_lengths_by_position(chunk: str, tokenizer) -> list[tuple[int, int]]:
    """For each character of ``chunk``: (start of the jieba word it belongs to, that word's length)."""
    found = [(0, 1)] * len(chunk)
    for _word, start, end in tokenizer.tokenize(chunk):
        for position in range(start, end):
            found[position] = (start, end - start)
    return found


# ---------------------------------------------------------------------------------------------------------------
# Sound-alike and look-alike characters (typo repair)

# Pinyin keyboards' fuzzy pairs: a worker who says "zi" for 知 or "xin" for 星 picks the wrong character.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))
_FUZZY_FINALS = (("ing", "in"), ("eng", "en"))


PINYIN_PATH = PACKAGE_DIR / "pinyin.txt"


def _toneless(reading: str) -> str:
    """ "luò" → "luo" (pypinyin's readings carry tone marks; pinyin.txt stores them without)."""
    return "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))


def _fold(plain: str) -> str:
    """A toneless reading with the fuzzy pairs folded ("zhi" → "zi", "xing" → "xin")."""
    for long, short in _FUZZY_INITIALS:
        if plain.startswith(long):
            plain = short + plain[len(long) :]
            break
    for long, short in _FUZZY_FINALS:
        if plain.endswith(long):
            plain = plain[: -len(long)] + short
            break
    return plain


@functools.lru_cache(maxsize=1)
def _readings() -> dict[str, tuple[str, ...]]:
    """Character → its toneless readings, from ``pinyin.txt`` (one line per character: ``落 luo la lao``)."""
    table = {}
    for line in PINYIN_PATH.read_text(encoding="utf-8").splitlines():
        char, *readings = line.split()
        table[char] = tuple(readings)
    return table


@functools.lru_cache(maxsize=8192)
def char_keys(char: str, lookalike_groups: tuple[str, ...] = ()) -> frozenset[str]:
    """What ``char`` can be mistyped for: its readings (toneless, fuzzy pairs folded) and its look-alike groups."""
    keys = {_fold(reading) for reading in _readings().get(char, ())}
    keys.update(f"~{group}" for group in lookalike_groups if char in group)
    return frozenset(keys)


def build_pinyin_table(output: Path = PINYIN_PATH) -> int:
    """Write ``pinyin.txt`` from pypinyin (a development dependency: the running assistant reads only the file,
    about 0.3 MB, where importing pypinyin would cost 55 MB and 0.2 s). Returns the number of characters."""
    from pypinyin.pinyin_dict import pinyin_dict

    lines = []
    for code in sorted(pinyin_dict):
        char = chr(code)
        if not is_cjk(char):
            continue
        readings = []
        for reading in pinyin_dict[code].split(","):
            plain = _toneless(reading)
            if plain and plain not in readings:
                readings.append(plain)
        if readings:
            lines.append(f"{char} {' '.join(readings)}\n")
    output.write_text("".join(lines), encoding="utf-8")
    return len(lines)


def bigram_keys(bigram: str, lookalike_groups: tuple[str, ...] = ()) -> set[str]:
    """Every pair of keys of a two-character string ("落护" → {"luo hu", "la hu", ...})."""
    first, second = (char_keys(char, lookalike_groups) for char in bigram)
    return {f"{a} {b}" for a in first for b in second}


# ---------------------------------------------------------------------------------------------------------------
# Index


@dataclasses.dataclass
class _Unit:
    """One unit of a query: alternatives (a term, or a worker's phrase and its synonyms, or a misspelt term and its
    repairs) and a weight."""

    alternatives: tuple[str, ...]
    kind_weight: float
    label: str


class SearchIndex:
    """An in-memory fielded BM25 index over rules' title, questions and answer.

    Immutable once built; :meth:`search` is thread-safe. Build it with every rule (including expired ones) so that
    idf, and therefore scores, do not change with the date asked about; dates filter the results.
    """

    def __init__(self, rules: Sequence[Rule], synonyms: Synonyms | None = None, tokenizer=None):
        self.rules = list(rules)
        self._by_id = {rule.id: rule for rule in self.rules}
        self.synonyms = synonyms if synonyms is not None else load_synonyms()
        self.tokenizer = tokenizer if tokenizer is not None else get_tokenizer()
        self._postings: dict[str, dict[int, float]] = defaultdict(dict)
        lengths = []
        passages: list[tuple[int, dict[str, float]]] = []  # (rule index, terms) of each title and question
        for index, rule in enumerate(self.rules):
            counts: dict[str, float] = defaultdict(float)
            fields = {"title": [rule.title], "questions": list(rule.questions), "answer": [rule.answer]}
            for field, texts in fields.items():
                for text in texts:
                    terms = self._terms(text)
                    for term in terms:
                        counts[term] += FIELD_WEIGHTS[field]
                    if field != "answer":
                        passages.append((index, terms))
            for term, count in counts.items():
                self._postings[term][index] = count
            lengths.append(sum(counts.values()))
        self._postings = dict(self._postings)
        self._lengths = lengths
        self._avg_length = (sum(lengths) / len(lengths)) if lengths else 1.0
        count = len(self.rules)
        self._idf = {term: self._idf_for(len(posting), count) for term, posting in self._postings.items()}
        self._unseen_idf = UNSEEN_WEIGHT * self._idf_for(1, max(count, 1))
        # Passages: the title and each question alone, so a question close to ONE phrasing of a rule is told apart
        # from one that matches words scattered over a long rule (see PASSAGE_SHARE).
        self._passage_rule: list[int] = []
        self._passage_postings: dict[str, list[int]] = defaultdict(list)
        self._passage_weights: list[float] = []  # each passage's own idf-weighted size (cosine's denominator)
        for passage, (index, terms) in enumerate(passages):
            self._passage_rule.append(index)
            for term in terms:
                self._passage_postings[term].append(passage)
            self._passage_weights.append(sum(weight * self._idf[term] for term, weight in terms.items()))
        self._passage_postings = dict(self._passage_postings)

    @staticmethod
    def _idf_for(document_frequency: int, count: int) -> float:
        return math.log(1.0 + (count - document_frequency + 0.5) / (document_frequency + 0.5))

    def _terms(self, text: str) -> dict[str, float]:
        return extract_terms(strip_punctuation(normalize_for_search(text)), self.tokenizer, self.synonyms)

    # -- query ----------------------------------------------------------------------------------------------

    def _query_units(self, text: str) -> list[_Unit]:
        cleaned = strip_punctuation(normalize_for_search(text))
        units: list[_Unit] = []
        for phrase in self.synonyms.longest_first:
            typed = phrase if phrase and phrase in cleaned else self._misspelt_phrase(phrase, cleaned)
            if typed:
                alternatives = (phrase,) + self.synonyms.phrases[phrase]
                units.append(_Unit(alternatives, WORD_WEIGHT, phrase))
                cleaned = cleaned.replace(typed, " ")
        for term, weight in self._terms_of_cleaned(cleaned).items():
            units.append(_Unit((term,) + self._repairs(term), weight, term))
        return units

    def _misspelt_phrase(self, phrase: str, cleaned: str) -> str | None:
        """The piece of ``cleaned`` that is ``phrase`` with one character mistyped for one that sounds or looks the
        same ("暂主证" for the worker's word 暂住证), or None. As for bigram repair, only a piece no rule contains is
        read as a typo: the character pairs the mistyped character forms in the piece are in no rule, and a
        function character (``bigram_stop_chars``) is never the mistyped one."""
        if len(phrase) < 2 or not all(is_cjk(char) for char in phrase):
            return None
        groups = self.synonyms.lookalike_groups
        for start in range(len(cleaned) - len(phrase) + 1):
            piece = cleaned[start : start + len(phrase)]
            differing = [i for i, (a, b) in enumerate(zip(piece, phrase, strict=True)) if a != b]
            if len(differing) != 1:
                continue
            at = differing[0]
            if piece[at] in self.synonyms.bigram_stop_chars or not is_cjk(piece[at]):
                continue  # "的工钱" is 工钱 after 的, not a misspelt 抵工钱
            if not char_keys(piece[at], groups) & char_keys(phrase[at], groups):
                continue
            pairs = [piece[i : i + 2] for i in (at - 1, at) if 0 <= i < len(piece) - 1]
            if pairs and not any(pair in self._postings or pair in self.synonyms.phrases for pair in pairs):
                return piece
        return None

    def _terms_of_cleaned(self, cleaned: str) -> dict[str, float]:
        return extract_terms(cleaned, self.tokenizer, self.synonyms)

    @functools.cached_property
    def _bigrams_by_key(self) -> dict[str, frozenset[str]]:
        """Sound/look key → the indexed two-character terms with that key (built on the first typo)."""
        groups = self.synonyms.lookalike_groups
        found: dict[str, set[str]] = defaultdict(set)
        for term in self._postings:
            if len(term) == 2 and is_cjk(term[0]) and is_cjk(term[1]):
                for key in bigram_keys(term, groups):
                    found[key].add(term)
        return {key: frozenset(terms) for key, terms in found.items()}

    def warm_up(self) -> None:
        """Build what typo repair needs now (a few tens of ms), so a server's first misspelt question does not wait."""
        _ = self._bigrams_by_key

    def _repairs(self, term: str) -> tuple[str, ...]:
        """Indexed bigrams ``term`` may be a typo of; none when ``term`` is itself indexed or not a CJK bigram."""
        if len(term) != 2 or term in self._postings or not (is_cjk(term[0]) and is_cjk(term[1])):
            return ()
        by_key = self._bigrams_by_key
        return tuple(
            sorted(
                {
                    alt
                    for key in bigram_keys(term, self.synonyms.lookalike_groups)
                    for alt in by_key.get(key, ())
                    if alt[0] == term[0] or alt[1] == term[1]
                }
            )
        )

    def _unit_idf(self, unit: _Unit) -> float:
        if unit.label not in self._idf:
            # The worker's own term is in no rule (a misspelling, or a word only its synonyms match): it weighs what
            # an unknown word does, whatever its repairs or synonyms match. Repair and synonyms add ways to match,
            # they do not make the question heavier (measured on bench/kb_dev and tests/kb_cases).
            return self._unseen_idf
        return max(self._idf.get(alternative, 0.0) for alternative in unit.alternatives)

    def _saturation(self, term_count: float, index: int) -> float:
        norm = 1.0 - BM25_B + BM25_B * self._lengths[index] / self._avg_length
        return term_count / (term_count + BM25_K1 * norm)  # BM25's tf part divided by its limit (k1 + 1)

    def search(
        self,
        text: str,
        *,
        on: datetime.date,
        topic: str | None = None,
        limit: int = 5,
        candidates: Iterable[str] | None = None,
    ) -> list[SearchHit]:
        """Rules in force on ``on`` (of ``topic`` only, if given), best first, at most ``limit``; only hits with a
        score above zero. ``candidates`` optionally restricts the search to these rule ids."""
        units = self._query_units(text)
        if not units or limit <= 0:
            return []
        allowed = None if candidates is None else set(candidates)
        cleaned_question = normalize_for_search(text)
        total_weight = 0.0
        scores: dict[int, float] = defaultdict(float)
        matched: dict[int, list[str]] = defaultdict(list)
        passage_scores: dict[int, float] = defaultdict(float)
        for unit in units:
            weight = unit.kind_weight * self._unit_idf(unit)
            total_weight += weight
            best: dict[int, tuple[float, str]] = {}
            for alternative in unit.alternatives:
                for index, count in self._postings.get(alternative, {}).items():
                    value = self._saturation(count, index)
                    if value > best.get(index, (0.0, ""))[0]:
                        best[index] = (value, alternative)
            for index, (value, alternative) in best.items():
                scores[index] += weight * value
                matched[index].append(unit.label if unit.label == alternative else f"{unit.label}→{alternative}")
            in_passages: set[int] = set()
            for alternative in unit.alternatives:
                in_passages.update(self._passage_postings.get(alternative, ()))
            for passage in in_passages:
                passage_scores[passage] += weight
        best_passage: dict[int, float] = defaultdict(float)
        query_weight = max(total_weight, MIN_QUERY_WEIGHT)
        for passage, value in passage_scores.items():
            index = self._passage_rule[passage]
            cosine = value / math.sqrt(query_weight * max(self._passage_weights[passage], value))
            best_passage[index] = max(best_passage[index], cosine)
        best_hit: dict[str, SearchHit] = {}
        for index, raw in scores.items():
            matched_rule = self.rules[index]
            rule = self._in_force(matched_rule, on)
            if rule is None or (topic is not None and rule.topic != topic):
                continue
            if allowed is not None and rule.id not in allowed:
                continue
            score = (1.0 - PASSAGE_SHARE) * min(1.0, raw / max(total_weight, MIN_QUERY_WEIGHT))
            score += PASSAGE_SHARE * best_passage[index]
            if rule.scope not in _BROAD_SCOPES and not _names_place(cleaned_question, rule.scope):
                score = max(0.0, score - LOCAL_SCOPE_PENALTY)
            superseded = matched_rule if rule is not matched_rule else None
            hit = SearchHit(rule, score, _readable_terms(matched[index]), superseded)
            known = best_hit.get(rule.id)
            if known is None or (hit.score, hit.superseded is None) > (known.score, known.superseded is None):
                best_hit[rule.id] = hit  # a rule matched itself and through a predecessor: the better match counts
        hits = sorted(best_hit.values(), key=lambda hit: (-hit.score, hit.rule.id))
        return hits[:limit]

    def _in_force(self, rule: Rule, on: datetime.date) -> Rule | None:
        """``rule`` if in force on ``on``; for a rule that has ended, its successor (following ``superseded_by``)
        in force on ``on``; otherwise None (a rule not yet in force is never served, nor is its successor)."""
        seen: set[str] = set()
        while not rule.is_valid_on(on):
            if rule.effective_until is None or rule.effective_until >= on or rule.superseded_by is None:
                return None
            if rule.id in seen:
                return None
            seen.add(rule.id)
            successor = self._by_id.get(rule.superseded_by)
            if successor is None:
                return None
            rule = successor
        return rule


@functools.lru_cache(maxsize=64)
def _place_names(scope: str) -> tuple[str, ...]:
    """The names a question may use for a local scope: "银川市兴庆区" → ("兴庆区", "兴庆"), "海原县" → ("海原县", "海原").
    The innermost unit counts: a question naming 银川 does not name 兴庆区."""
    innermost = re.split(r"(?<=[市州盟])", normalize_for_search(scope))
    place = next((part for part in reversed(innermost) if part), "")
    short = _PLACE_SUFFIXES.sub("", place)
    return tuple(name for name in {place, short} if len(name) >= 2)


def _names_place(question: str, scope: str) -> bool:
    return any(name in question for name in _place_names(scope))


def _readable_terms(terms: list[str]) -> list[str]:
    """Matched terms without bigrams already inside a longer matched term (easier to read in the CLI)."""
    longer = [term for term in terms if len(term) > 2]
    return [term for term in terms if len(term) > 2 or not any(term in other for other in longer)]


# ---------------------------------------------------------------------------------------------------------------
# The compact jieba dictionary


def build_search_dict(
    texts: Iterable[str], extra_words: Iterable[str] = (), output: Path = SEARCH_DICT_PATH, max_len: int = 8
) -> int:
    """Write ``search_dict.txt``: every word of jieba's main dictionary that occurs in ``texts``, plus
    ``extra_words`` (synonyms, NLU user dictionary). Returns the number of words written."""
    import jieba

    substrings: set[str] = set()
    for text in texts:
        cleaned = normalize_for_search(text)
        for start in range(len(cleaned)):
            for end in range(start + 1, min(start + max_len, len(cleaned)) + 1):
                substrings.add(cleaned[start:end])
    extras = {normalize_for_search(word) for word in extra_words if word and word.strip()}
    lines: dict[str, str] = {}
    with open(jieba.get_dict_file().name, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and (parts[0] in substrings or parts[0] in extras):
                lines.setdefault(parts[0], " ".join(parts[:3]))
    for word in sorted(extras - set(lines)):
        lines[word] = f"{word} 1000 n"  # a word jieba does not know: a middling frequency keeps it whole
    output.write_text("".join(f"{lines[word]}\n" for word in sorted(lines)), encoding="utf-8")
    return len(lines)
