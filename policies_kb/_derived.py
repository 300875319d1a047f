"""Facts computed from other facts and the dated parameters (``derived:`` in ``policies_kb/facts/*.yaml``).

The pension check asks the worker's birth month, sex and (for women) whether they work on the shop floor or in a
management/technical post, and computes from ``statutory_retirement_age`` and ``pension_minimum_contribution_years``:

* ``retirement_month`` ("YYYY-MM"): the month the worker reaches the statutory retirement age;
* ``reached_retirement_age``: that month has begun on the day asked about (a worker may also say so directly);
* ``minimum_contribution_years``: the minimum in force in the year they reach it (15 before 2030, then +0.5 a year);
* ``meets_minimum_contribution``: ``contribution_years`` >= that minimum.

A derived fact that cannot be computed yet is unknown, and the facts to ask for it are its missing inputs
(:func:`inputs_to_ask`), so the dialogue asks "哪年哪月出生" rather than "到法定退休年龄了吗".
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Any

from policies_kb._parameters import Parameters, RetirementGroup

__all__ = ["DERIVED_FACTS", "PLACEHOLDERS", "derive", "inputs_to_ask", "display_values"]

MINIMUM_YEARS = "pension_minimum_contribution_years"
RETIREMENT = "statutory_retirement_age"

# name -> the facts it is computed from (in the order they are asked)
DERIVED_FACTS: Mapping[str, tuple[str, ...]] = {
    "retirement_month": ("birth_month", "sex", "female_job"),
    "reached_retirement_age": ("birth_month", "sex", "female_job"),
    "minimum_contribution_years": ("birth_month", "sex", "female_job"),
    "meets_minimum_contribution": ("birth_month", "sex", "female_job", "contribution_years"),
}
# the {placeholders} a reason may use, filled by display_values()
PLACEHOLDERS = ("retirement_month", "retirement_age", "minimum_contribution_years", "contribution_shortfall")


def _month_start(value: str) -> datetime.date:
    return datetime.date(int(value[:4]), int(value[5:7]), 1)


def _group(facts: Mapping[str, Any], parameters: Parameters) -> RetirementGroup | None:
    schedule = parameters.schedules.get(RETIREMENT)
    sex = facts.get("sex")
    if schedule is None or sex is None:
        return None
    if sex == "male":
        return schedule.groups.get("male")
    job = facts.get("female_job")
    if job is None:
        return None
    return schedule.groups.get("female_50" if job == "worker" else "female_55")


def retirement(facts: Mapping[str, Any], parameters: Parameters) -> tuple[str, int] | None:
    """``(retirement month, age in months)``, or None while birth month, sex or (for a woman) job is unknown."""
    group = _group(facts, parameters)
    birth = facts.get("birth_month")
    if group is None or birth is None:
        return None
    return group.retirement(birth)


def derive(facts: Mapping[str, Any], on: datetime.date, parameters: Parameters) -> dict[str, Any]:
    """The derived facts that can be computed from ``facts`` on ``on`` (a fact already given is kept as given)."""
    derived: dict[str, Any] = {}
    computed = retirement(facts, parameters)
    minimum = parameters.dated.get(MINIMUM_YEARS)
    if computed is not None:
        month, _ = computed
        derived["retirement_month"] = month
        derived["reached_retirement_age"] = _month_start(month) <= on
        if minimum is not None:
            derived["minimum_contribution_years"] = minimum.value_on(_month_start(month))
    elif facts.get("reached_retirement_age") is True and minimum is not None:
        # retired already, month unknown: the minimum is known if it was the same on every day up to `on`
        values = {entry.value for entry in minimum.values if entry.start <= on}
        if len(values) == 1:
            derived["minimum_contribution_years"] = values.pop()
    derived = {name: value for name, value in derived.items() if facts.get(name) is None and value is not None}
    years = facts.get("contribution_years")
    needed = facts.get("minimum_contribution_years", derived.get("minimum_contribution_years"))
    if years is not None and needed is not None and facts.get("meets_minimum_contribution") is None:
        derived["meets_minimum_contribution"] = years >= needed
    return derived


def inputs_to_ask(name: str, facts: Mapping[str, Any]) -> list[str]:
    """For a derived fact that is still unknown, the inputs to ask, in order (``female_job`` only once the worker is
    known to be a woman); [] for a fact that is not derived. ``facts`` are the given and derived facts so far."""
    if name not in DERIVED_FACTS:
        return []
    if name == "meets_minimum_contribution" and facts.get("minimum_contribution_years") is not None:
        return [] if facts.get("contribution_years") is not None else ["contribution_years"]
    asked = []
    for item in DERIVED_FACTS[name]:
        if facts.get(item) is not None:
            continue
        if item == "female_job" and facts.get("sex") != "female":
            continue  # asked only once we know the worker is a woman
        asked.append(item)
    return asked


def _years(value: float) -> str:
    whole = math.floor(value)
    if value == whole:
        return f"{whole}年"
    if value - whole == 0.5:
        return f"{whole}年半" if whole else "半年"
    return f"{value:g}年"


def display_values(facts: Mapping[str, Any], parameters: Parameters) -> dict[str, str]:
    """The reason placeholders that can be filled from ``facts`` (given and derived)."""
    values: dict[str, str] = {}
    computed = retirement(facts, parameters)
    if computed is not None:
        month, age = computed
        values["retirement_month"] = f"{int(month[:4])}年{int(month[5:])}月"
        years, months = divmod(age, 12)
        values["retirement_age"] = f"{years}岁" + (f"{months}个月" if months else "")
    minimum = facts.get("minimum_contribution_years")
    if minimum is not None:
        values["minimum_contribution_years"] = _years(minimum)
        given = facts.get("contribution_years")
        if given is not None and given < minimum:
            values["contribution_shortfall"] = _years(minimum - given)
    return values
