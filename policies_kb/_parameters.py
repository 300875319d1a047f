"""Dated values (``policies_kb/parameters/*.yaml``), like OpenFisca parameters: a value holds from its date until the
next value's date, and each value carries its reference (title, doc_no, article, text or url, quality).

Two shapes (SCHEMA.md, "Parameters"):

* a **dated value** (``values: {DATE: {value, reference}}``), e.g. ``pension_minimum_contribution_years``;
* a **retirement schedule** (``groups: {NAME: {label, original_age, values: {DATE: {every_months, final_age,
  reference}}}}``), ``statutory_retirement_age``: a worker whose original retirement month falls on or after a
  value's date retires one month later for every ``every_months`` months after that date (the first month counts),
  at most at ``final_age``.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from policies_kb._schema import SOURCE_QUALITIES, KBError, _Collector, parse_iso_date
from policies_kb._year_month import add_months, months_between

__all__ = [
    "DEFAULT_PARAMETERS_DIR",
    "Reference",
    "DatedValue",
    "DatedParameter",
    "RetirementGroup",
    "RetirementSchedule",
    "Parameters",
    "load_parameters",
]

DEFAULT_PARAMETERS_DIR = Path(__file__).resolve().parent / "parameters"
_REFERENCE_REQUIRED = ("title", "doc_no", "article", "quality")
_REFERENCE_OPTIONAL = ("url", "text", "note")


@dataclasses.dataclass(frozen=True)
class Reference:
    """Where a dated value comes from."""

    title: str
    doc_no: str
    article: str
    quality: str
    url: str | None = None
    text: str | None = None
    note: str | None = None

    def citation(self) -> str:
        doc_no = f"（{self.doc_no}）" if self.doc_no else ""
        return f"《{self.title}》{doc_no}{self.article}"


@dataclasses.dataclass(frozen=True)
class DatedValue:
    start: datetime.date
    value: float
    reference: Reference


@dataclasses.dataclass(frozen=True)
class DatedParameter:
    """A value that changes on known dates."""

    name: str
    description: str
    unit: str
    values: tuple[DatedValue, ...]  # sorted by start

    def entry_on(self, day: datetime.date) -> DatedValue | None:
        """The value in force on ``day`` (None before the first date)."""
        current = None
        for entry in self.values:
            if entry.start <= day:
                current = entry
        return current

    def value_on(self, day: datetime.date) -> float | None:
        entry = self.entry_on(day)
        return entry.value if entry is not None else None


@dataclasses.dataclass(frozen=True)
class RetirementStep:
    start: datetime.date
    every_months: int
    final_age: int
    reference: Reference


@dataclasses.dataclass(frozen=True)
class RetirementGroup:
    name: str
    label: str
    original_age: int
    steps: tuple[RetirementStep, ...]

    def retirement(self, birth_month: str) -> tuple[str, int]:
        """``(retirement month "YYYY-MM", retirement age in months)`` for a worker born in ``birth_month``."""
        original_age = self.original_age * 12
        original_month = add_months(birth_month, original_age)
        step = None
        for candidate in self.steps:
            if original_month >= f"{candidate.start.year:04d}-{candidate.start.month:02d}":
                step = candidate
        if step is None:
            return original_month, original_age
        start = f"{step.start.year:04d}-{step.start.month:02d}"
        delay = min(
            months_between(start, original_month) // step.every_months + 1, (step.final_age * 12) - original_age
        )
        return add_months(birth_month, original_age + delay), original_age + delay

    def reference_for(self, birth_month: str) -> Reference | None:
        original_month = add_months(birth_month, self.original_age * 12)
        found = None
        for step in self.steps:
            if original_month >= f"{step.start.year:04d}-{step.start.month:02d}":
                found = step.reference
        return found


@dataclasses.dataclass(frozen=True)
class RetirementSchedule:
    name: str
    description: str
    groups: Mapping[str, RetirementGroup]


@dataclasses.dataclass(frozen=True)
class Parameters:
    """Every parameter file, by name (the file's stem)."""

    dated: Mapping[str, DatedParameter]
    schedules: Mapping[str, RetirementSchedule]


# ---------------------------------------------------------------------------------------------------------------
# Loading


def _reference(raw: Any, field: str, errors: _Collector) -> Reference | None:
    if not isinstance(raw, dict):
        errors.add(field, "must be a mapping {title, doc_no, article, quality, url|text}")
        return None
    before = len(errors.errors)
    errors.keys(raw, field, _REFERENCE_REQUIRED, _REFERENCE_OPTIONAL)
    if raw.get("quality") is not None and raw.get("quality") not in SOURCE_QUALITIES:
        errors.add(f"{field}.quality", f"must be one of {', '.join(SOURCE_QUALITIES)}")
    if raw.get("quality") == "official_text" and not raw.get("text"):
        errors.add(f"{field}.text", "official_text names the shipped text (text: <id>)")
    if raw.get("quality") in ("official_page", "news") and not raw.get("url") and not raw.get("note"):
        errors.add(f"{field}.url", "a page reference gives its url (or a note quoting it)")
    if len(errors.errors) > before:
        return None
    return Reference(
        title=str(raw["title"]),
        doc_no=str(raw["doc_no"]),
        article=str(raw["article"]),
        quality=str(raw["quality"]),
        url=raw.get("url"),
        text=raw.get("text"),
        note=raw.get("note"),
    )


def _dated(name: str, data: dict, errors: _Collector) -> DatedParameter | None:
    values = data.get("values")
    if not isinstance(values, dict) or not values:
        errors.add("values", "must map dates to {value, reference}")
        return None
    entries = []
    for key, raw in values.items():
        day = parse_iso_date(key)
        if day is None:
            errors.add(f"values.{key}", "the key must be an ISO date")
            continue
        if not isinstance(raw, dict) or set(raw) != {"value", "reference"}:
            errors.add(f"values.{key}", "must be {value: N, reference: {...}}")
            continue
        if isinstance(raw["value"], bool) or not isinstance(raw["value"], (int, float)):
            errors.add(f"values.{key}.value", "must be a number")
            continue
        reference = _reference(raw["reference"], f"values.{key}.reference", errors)
        if reference is not None:
            entries.append(DatedValue(day, float(raw["value"]), reference))
    entries.sort(key=lambda entry: entry.start)
    return DatedParameter(name, str(data.get("description", "")), str(data.get("unit", "")), tuple(entries))


def _schedule(name: str, data: dict, errors: _Collector) -> RetirementSchedule | None:
    groups_raw = data.get("groups")
    if not isinstance(groups_raw, dict) or not groups_raw:
        errors.add("groups", "must map group names to {label, original_age, values}")
        return None
    groups: dict[str, RetirementGroup] = {}
    for group_name, raw in groups_raw.items():
        field = f"groups.{group_name}"
        if not isinstance(raw, dict) or set(raw) != {"label", "original_age", "values"}:
            errors.add(field, "must be {label, original_age, values}")
            continue
        if not isinstance(raw["original_age"], int) or isinstance(raw["original_age"], bool):
            errors.add(f"{field}.original_age", "must be whole years")
            continue
        steps = []
        for key, step in (raw["values"] or {}).items():
            day = parse_iso_date(key)
            step_field = f"{field}.values.{key}"
            if day is None:
                errors.add(step_field, "the key must be an ISO date")
                continue
            if not isinstance(step, dict) or set(step) != {"every_months", "final_age", "reference"}:
                errors.add(step_field, "must be {every_months, final_age, reference}")
                continue
            if not isinstance(step["every_months"], int) or step["every_months"] < 1:
                errors.add(f"{step_field}.every_months", "must be a whole number of months >= 1")
                continue
            if not isinstance(step["final_age"], int) or step["final_age"] < raw["original_age"]:
                errors.add(f"{step_field}.final_age", "must be whole years, not below original_age")
                continue
            reference = _reference(step["reference"], f"{step_field}.reference", errors)
            if reference is not None:
                steps.append(RetirementStep(day, step["every_months"], step["final_age"], reference))
        steps.sort(key=lambda step: step.start)
        groups[group_name] = RetirementGroup(group_name, str(raw["label"]), raw["original_age"], tuple(steps))
    return RetirementSchedule(name, str(data.get("description", "")), groups)


def load_parameters(parameters_dir: Path | None = None) -> tuple[Parameters, list[KBError]]:
    """Read every ``*.yaml`` of ``parameters_dir``; return the parameters and the errors found."""
    from policies_kb._loader import display_path, parse_yaml

    folder = Path(parameters_dir) if parameters_dir is not None else DEFAULT_PARAMETERS_DIR
    dated: dict[str, DatedParameter] = {}
    schedules: dict[str, RetirementSchedule] = {}
    errors: list[KBError] = []
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        shown = display_path(path)
        data, parse_errors = parse_yaml(path.read_text(encoding="utf-8"), shown)
        if parse_errors:
            errors.extend(parse_errors)
            continue
        collected = _Collector(shown)
        if not isinstance(data, dict) or ("values" in data) == ("groups" in data):
            collected.add("(file)", "a parameter file has either values: (dated values) or groups: (a schedule)")
        elif "values" in data:
            unknown = set(data) - {"description", "unit", "values"}
            for key in sorted(unknown):
                collected.add(key, "unknown key (allowed: description, unit, values)")
            parameter = _dated(path.stem, data, collected)
            if parameter is not None and not collected.errors:
                dated[path.stem] = parameter
        else:
            unknown = set(data) - {"description", "unit", "reference", "groups"}
            for key in sorted(unknown):
                collected.add(key, "unknown key (allowed: description, unit, reference, groups)")
            schedule = _schedule(path.stem, data, collected)
            if schedule is not None and not collected.errors:
                schedules[path.stem] = schedule
        errors.extend(collected.errors)
    return Parameters(dated, schedules), errors
