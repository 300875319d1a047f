"""Write `nlu/userdict/places.txt`, the jieba dictionary of Ningxia place names, from `ningxia_places.yml`.

Run `python -m nlu.build_dict` after editing the places file; a test checks the committed file is up to date.
"""

from __future__ import annotations

from pathlib import Path

from nlu.places import all_place_names

PLACES_DICT = Path(__file__).parent / "userdict" / "places.txt"


def render() -> str:
    """The dictionary text: one `name frequency ns` line per place name."""
    return "".join(f"{name} 2000 ns\n" for name in all_place_names())


def main() -> None:
    PLACES_DICT.write_text(render(), encoding="utf-8")
    print(f"wrote {PLACES_DICT}")


if __name__ == "__main__":
    main()
