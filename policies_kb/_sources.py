"""The shipped full texts (``policies_kb/sources/<id>.md``) and the mechanical check of rule quotes against them.

Each text file starts with YAML front matter (``id, title, doc_no, issuer, kind, adopted, revised, version, origin``
and an optional ``note``) between ``---`` lines; the body is the text as published. ``kind: statute`` texts are
divided into articles (lines starting ``第N条``) and paragraphs (款, separated by blank lines; the items (一)(二)…
belong to the paragraph before them). The seed notice (``kind: notice``) is divided into its sections ``一、`` … and
subsections ``(一)`` …, so ``二(七)`` is section 二's subsection (七); ``页脚`` is what follows the signature.

A quote is checked against the cited article: after normalising (NFKC, then every punctuation mark and space
removed), each part of the quote between "……" must occur inside the located text. ``全文`` locates the whole text;
several articles (``第九条、第四十四条`` or ``二(六)；页脚``) locate their union (each part must be inside one of them).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policies_kb._schema import KBError, parse_iso_date

__all__ = [
    "DEFAULT_SOURCES_DIR",
    "ShippedText",
    "load_texts",
    "locate",
    "normalise_for_quote",
    "quote_problem",
]

DEFAULT_SOURCES_DIR = Path(__file__).resolve().parent / "sources"
_FRONT_REQUIRED = ("id", "title", "doc_no", "issuer", "kind", "adopted", "revised", "version", "origin")
_FRONT_OPTIONAL = ("note",)
KINDS = ("statute", "notice")

_CN_NUM = "零〇一二两三四五六七八九十百千"
_ARTICLE_LINE = re.compile(rf"^(第[{_CN_NUM}]+条)(?:[\s\u3000]+|$)")
_ITEM_START = re.compile(rf"^[(（][{_CN_NUM}]+[)）]")
_SECTION_LINE = re.compile(rf"^([{_CN_NUM}]+)、")
_SUBSECTION_LINE = re.compile(rf"^[(（]([{_CN_NUM}]+)[)）]")
_SIGNATURE_DATE = re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日\s*$")
# An article reference: 第十七条, 第二十条第二款, 第十六条(一), 第十六条第一款(一); a notice section: 二, 二(七); 页脚; 全文.
_STATUTE_REF = re.compile(rf"^(第[{_CN_NUM}]+条)(?:第([{_CN_NUM}]+)款)?(?:[(（]([{_CN_NUM}]+)[)）])?$")
_NOTICE_REF = re.compile(rf"^([{_CN_NUM}]+)(?:[(（]([{_CN_NUM}]+)[)）])?$")


@dataclasses.dataclass(frozen=True)
class ShippedText:
    """One shipped text: its metadata and its body (without the front matter)."""

    id: str
    title: str
    doc_no: str
    issuer: str
    kind: str
    adopted: datetime.date
    revised: tuple[datetime.date, ...]
    version: datetime.date
    origin: str
    body: str
    note: str | None = None
    path: str | None = dataclasses.field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The metadata as JSON-ready data (the body left out)."""
        return {
            "id": self.id,
            "title": self.title,
            "doc_no": self.doc_no,
            "issuer": self.issuer,
            "kind": self.kind,
            "adopted": self.adopted.isoformat(),
            "revised": [day.isoformat() for day in self.revised],
            "version": self.version.isoformat(),
            "origin": self.origin,
            "note": self.note,
        }


_NOT_WORD = re.compile(r"[\W_]+")


def normalise_for_quote(text: str) -> str:
    """NFKC, then everything but letters, digits and CJK characters removed: punctuation, brackets and whitespace do
    not matter (``，`` vs ``,``, ``（一）`` vs ``(一)``), every character of the wording does."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text))


def _split_front_matter(raw: str) -> tuple[str | None, str]:
    if not raw.startswith("---\n"):
        return None, raw
    end = raw.find("\n---\n", 4)
    if end < 0:
        return None, raw
    return raw[4:end], raw[end + 5 :]


def load_texts(sources_dir: Path | None = None) -> tuple[dict[str, ShippedText], list[KBError]]:
    """Read every ``<id>.md`` of ``sources_dir``; return the valid texts by id and the errors found."""
    from policies_kb._loader import display_path, parse_yaml  # the loader imports this module

    folder = Path(sources_dir) if sources_dir is not None else DEFAULT_SOURCES_DIR
    texts: dict[str, ShippedText] = {}
    errors: list[KBError] = []
    if not folder.is_dir():
        return texts, errors
    for path in sorted(folder.glob("*.md")):
        shown = display_path(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(KBError(shown, "(file)", f"cannot read: {exc}"))
            continue
        front, body = _split_front_matter(raw)
        if front is None:
            errors.append(KBError(shown, "(file)", "a shipped text starts with front matter between --- lines"))
            continue
        data, parse_errors = parse_yaml(front, shown)
        if parse_errors:
            errors.extend(parse_errors)
            continue
        text, text_errors = _validate_text(data, body, shown, path.stem)
        errors.extend(text_errors)
        if text is not None:
            texts[text.id] = text
    return texts, errors


def _validate_text(data: Any, body: str, path: str, stem: str) -> tuple[ShippedText | None, list[KBError]]:
    errors: list[KBError] = []

    def add(field: str, message: str) -> None:
        errors.append(KBError(path, field, message))

    if not isinstance(data, dict):
        add("(file)", "the front matter must be a mapping")
        return None, errors
    for key in _FRONT_REQUIRED:
        if key not in data:
            add(key, "required field is missing")
    for key in data:
        if key not in _FRONT_REQUIRED + _FRONT_OPTIONAL:
            add(str(key), f"unknown key (allowed: {', '.join(_FRONT_REQUIRED + _FRONT_OPTIONAL)})")
    if errors:
        return None, errors
    if data["id"] != stem:
        add("id", f"{data['id']!r} does not match the file name {stem!r}")
    for key in ("title", "issuer", "origin"):
        if not isinstance(data[key], str) or not data[key].strip():
            add(key, "must be non-empty text")
    if not isinstance(data["doc_no"], str):
        add("doc_no", 'must be text ("" for a law without a number)')
    if data["kind"] not in KINDS:
        add("kind", f"must be one of {', '.join(KINDS)}, got {data['kind']!r}")
    adopted = parse_iso_date(data["adopted"])
    version = parse_iso_date(data["version"])
    if adopted is None:
        add("adopted", f"must be an ISO date, got {data['adopted']!r}")
    if version is None:
        add("version", f"must be an ISO date, got {data['version']!r}")
    revised_raw = data["revised"]
    revised: list[datetime.date] = []
    if not isinstance(revised_raw, list):
        add("revised", "must be a list of ISO dates ([] when never revised)")
    else:
        for index, item in enumerate(revised_raw):
            day = parse_iso_date(item)
            if day is None:
                add(f"revised[{index}]", f"must be an ISO date, got {item!r}")
            else:
                revised.append(day)
    if adopted and version and version != (revised[-1] if revised else adopted):
        add("version", "must be the last revision date (or the adoption date when never revised)")
    if not body.strip():
        add("(body)", "the text is empty")
    if errors or adopted is None or version is None:
        return None, errors
    return (
        ShippedText(
            id=data["id"],
            title=data["title"].strip(),
            doc_no=data["doc_no"].strip(),
            issuer=data["issuer"].strip(),
            kind=data["kind"],
            adopted=adopted,
            revised=tuple(revised),
            version=version,
            origin=data["origin"].strip(),
            body=body,
            note=data.get("note"),
            path=path,
        ),
        [],
    )


# ---------------------------------------------------------------------------------------------------------------
# Locating an article


def _paragraphs(lines: list[str]) -> list[str]:
    paragraphs, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            paragraphs.append("".join(current))
            current = []
    if current:
        paragraphs.append("".join(current))
    return paragraphs


@functools.lru_cache(maxsize=64)
def _statute_articles(body: str) -> dict[str, list[str]]:
    """Article name → its paragraphs (the first one starts with the article's own text, without ``第N条``)."""
    articles: dict[str, list[str]] = {}
    name: str | None = None
    lines: list[str] = []
    for line in body.splitlines():
        match = _ARTICLE_LINE.match(line.strip())
        if match or line.startswith("#"):
            if name is not None:
                articles.setdefault(name, _paragraphs(lines))
            name, lines = (match.group(1), [line.strip()[match.end() :]]) if match else (None, [])
            continue
        if name is not None:
            lines.append(line)
    if name is not None:
        articles.setdefault(name, _paragraphs(lines))
    return articles


@functools.lru_cache(maxsize=16)
def _notice_sections(body: str) -> dict[str, str]:
    """``一`` / ``二(七)`` / ``页脚`` → text. A section's text includes its subsections."""
    sections: dict[str, list[str]] = {}
    section: str | None = None
    sub: str | None = None
    footer = False
    for raw in body.splitlines():
        line = raw.strip()
        if footer:
            sections["页脚"].append(line)
            continue
        if _SIGNATURE_DATE.match(line) and section is not None:
            footer = True
            sections["页脚"] = []
            continue
        top = _SECTION_LINE.match(line)
        if top:
            section, sub = top.group(1), None
            sections.setdefault(section, []).append(line)
            continue
        if section is None:
            continue
        subsection = _SUBSECTION_LINE.match(line)
        if subsection:
            sub = f"{section}({subsection.group(1)})"
        sections[section].append(line)
        if sub is not None:
            sections.setdefault(sub, []).append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def locate(text: ShippedText, article: str) -> str | None:
    """The text of ``article`` in ``text`` (see the module doc), or None when the text has no such article."""
    reference = re.sub(r"[（(][^（()）]*[)）]$", "", article.strip()) if article.startswith("页脚") else article.strip()
    if reference == "全文":
        return text.body
    if text.kind == "statute":
        match = _STATUTE_REF.match(reference)
        if not match:
            return None
        paragraphs = _statute_articles(text.body).get(match.group(1))
        if paragraphs is None:
            return None
        if match.group(2):  # 第M款: the M-th paragraph that is not an item, with the items that follow it
            clauses: list[list[str]] = []
            for paragraph in paragraphs:
                if _ITEM_START.match(paragraph) and clauses:
                    clauses[-1].append(paragraph)
                else:
                    clauses.append([paragraph])
            index = _cn_index(match.group(2))
            if index is None or index > len(clauses):
                return None
            paragraphs = clauses[index - 1]
        if match.group(3):  # (一): the item paragraph
            marker = re.compile(rf"^[(（]{match.group(3)}[)）]")
            items = [paragraph for paragraph in paragraphs if marker.match(paragraph)]
            return items[0] if items else None
        return "\n".join(paragraphs)
    sections = _notice_sections(text.body)
    if reference == "页脚":
        return sections.get("页脚")
    match = _NOTICE_REF.match(reference)
    if not match:
        return None
    key = f"{match.group(1)}({match.group(2)})" if match.group(2) else match.group(1)
    return sections.get(key)


@functools.lru_cache(maxsize=1024)
def _normalised(text: str) -> str:
    return normalise_for_quote(text)


def _cn_index(numeral: str) -> int | None:
    values = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
    if numeral in values:
        return values[numeral]
    if len(numeral) == 2 and numeral[0] == "十" and numeral[1] in values:
        return 10 + values[numeral[1]]
    return None


def split_articles(article: str) -> list[str]:
    """``第九条、第四十四条`` → both; ``二(六)；页脚（…）`` → both."""
    return [part.strip() for part in re.split(r"[、；;，,]", article) if part.strip()]


def quote_problem(quote: str, text: ShippedText, article: str) -> str | None:
    """Why ``quote`` is not the text of ``article`` in ``text``, or None when every part of it is there."""
    located: list[str] = []
    for part in split_articles(article):
        found = locate(text, part)
        if found is None:
            return f"{text.title} has no article {part!r} (cited as {article!r})"
        located.append(_normalised(found))
    for part in re.split(r"…+|\.{3,}", quote):
        needle = normalise_for_quote(part)
        if not needle:
            continue
        if not any(needle in haystack for haystack in located):
            return f"not found in {text.title} {article}: 「{part.strip()}」"
    return None


def missing_contract_texts(texts: Mapping[str, ShippedText]) -> list[str]:
    """Ids of the contract's 16 texts that are not among ``texts`` (the package must ship all of them)."""
    return [text_id for text_id in CONTRACT_TEXT_IDS if text_id not in texts]


CONTRACT_TEXT_IDS: tuple[str, ...] = (
    "nx_rsh_2023_81",
    "labor_law",
    "labor_contract_law",
    "labor_contract_law_regulations",
    "social_insurance_law",
    "unemployment_insurance_regulations",
    "work_injury_insurance_regulations",
    "labor_dispute_law",
    "labor_inspection_regulations",
    "migrant_wage_regulations",
    "residence_permit_regulations",
    "compulsory_education_law",
    "rural_land_contract_law",
    "housing_fund_regulations",
    "employment_promotion_law",
    "legal_aid_law",
)
