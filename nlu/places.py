"""Ningxia's cities, counties and well-known towns, read from `nlu/ningxia_places.yml`.

Used by the jieba dictionary (so 闽宁镇 or 红寺堡区 are never split), by NLU entity extraction, and by the case-intake
form, which accepts "在银川金凤区干活" and records 金凤区.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.text import normalize_keep_offsets

PLACES_FILE = Path(__file__).with_name("ningxia_places.yml")

__all__ = ["County", "counties", "find_county", "all_place_names"]


@dataclass(frozen=True)
class County:
    """A county-level division (县, 区 or 县级市) and the prefecture-level city it belongs to."""

    name: str
    city: str
    aliases: tuple[str, ...]


@functools.lru_cache(maxsize=1)
def _load() -> tuple[dict[str, County], dict[str, str], dict[str, tuple[str, ...]]]:
    data = yaml.safe_load(PLACES_FILE.read_text(encoding="utf-8"))
    by_name: dict[str, County] = {}
    city_aliases: dict[str, tuple[str, ...]] = {}
    for city, city_data in data["cities"].items():
        city_aliases[city] = tuple(city_data.get("aliases", []))
        for county, aliases in city_data["counties"].items():
            by_name[county] = County(county, city, tuple(aliases or []))
    towns = dict(data.get("towns", {}))
    unknown = [county for county in towns.values() if county not in by_name]
    if unknown:
        raise ValueError(f"{PLACES_FILE}: towns point to unknown counties: {unknown}")
    return by_name, towns, city_aliases


def counties() -> list[County]:
    """All 22 county-level divisions of Ningxia, in file order."""
    return list(_load()[0].values())


def all_place_names() -> list[str]:
    """Every city, county, alias and town name, for dictionaries and entity lookup tables."""
    by_name, towns, city_aliases = _load()
    names: list[str] = []
    for city, aliases in city_aliases.items():
        names += [city, *aliases]
    for county in by_name.values():
        names += [county.name, *county.aliases]
    names += list(towns)
    return list(dict.fromkeys(names))


def find_county(text: str) -> County | None:
    """The county named in free text, by full name, alias or town; None when none or several differ.

    "在银川金凤区" → 金凤区; "闽宁镇的工地" → 永宁县; "银川" alone names a city, not a county → None.
    """
    by_name, towns, _ = _load()
    text = normalize_keep_offsets(text)
    found: dict[str, County] = {}
    for county in by_name.values():
        if county.name in text or any(alias in text for alias in county.aliases):
            found[county.name] = county
    for town, county_name in towns.items():
        if town in text:
            found[county_name] = by_name[county_name]
    # "西夏区" also contains no other alias, but "青铜峡市" vs nothing: keep the longest matches only.
    if len(found) == 1:
        return next(iter(found.values()))
    return None
