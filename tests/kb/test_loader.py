"""The loader refuses every broken fixture, naming the file and the field; the CLI exits 1 on each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policies_kb import KBValidationError, KnowledgeBase
from policies_kb._loader import load_files, parse_yaml

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
REPO = HERE.parent.parent

BROKEN = sorted(path for path in (HERE / "broken").iterdir() if path.is_dir())


def _expected(case: Path) -> dict:
    return yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))


def _sources(case: Path) -> Path | None:
    """A case may ship its own texts (sources/); the others use the package's."""
    return case / "sources" if (case / "sources").is_dir() else None


def test_there_is_a_broken_fixture_per_error_mode():
    names = {case.name for case in BROKEN}
    required = {
        "missing_sources",
        "source_missing_title",
        "unknown_key",
        "duplicate_key",
        "bad_date",
        "effective_range_reversed",
        "duplicate_id",
        "topic_not_folder",
        "unknown_fact",
        "wrong_type_value",
        "source_missing_quality",
        "source_bad_quality",
        "official_text_without_text",
        "text_on_a_news_source",
        "unknown_text",
        "quote_altered",
        "quote_wrong_article",
        "article_not_in_text",
        "missing_verified_by",
        "superseded_by_unknown",
        "superseded_by_not_in_force",
        "superseded_without_change_note",
        "superseded_but_open",
        "related_unknown",
        "facet_unknown_key",
        "text_front_matter_missing_issuer",
    }
    assert required <= names


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_broken_fixture_is_refused_naming_file_and_field(case: Path):
    expected = _expected(case)
    with pytest.raises(KBValidationError) as raised:
        KnowledgeBase.load(case / "rules", case / "facts", sources_dir=_sources(case))
    errors = raised.value.errors
    wanted_path = (case / expected["file"]).resolve()
    assert any(Path(error.path).resolve() == wanted_path and error.field == expected["field"] for error in errors), (
        "\n".join(map(str, errors))
    )


@pytest.mark.parametrize("case", BROKEN, ids=[case.name for case in BROKEN])
def test_check_command_exits_1_on_broken_fixture(case: Path):
    expected = _expected(case)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "policies_kb",
            "check",
            "--rules-dir",
            str(case / "rules"),
            "--facts-dir",
            str(case / "facts"),
            *(["--sources-dir", str(_sources(case))] if _sources(case) else []),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{expected['file']}: {expected['field']}: " in run.stdout


def test_check_command_passes_on_shipped_rules():
    run = subprocess.run(
        [sys.executable, "-m", "policies_kb", "check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("OK: ")


def test_check_command_passes_on_fixture_rules():
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "policies_kb",
            "check",
            "--rules-dir",
            str(FIXTURES / "rules"),
            "--facts-dir",
            str(FIXTURES / "facts"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0
    assert run.stdout.strip() == "OK: 7 rules, 6 topics, 4 facts, 16 texts; 4 quotes verified against their text"


def test_one_error_does_not_hide_the_others(tmp_path):
    source = (FIXTURES / "rules/insurance/pension_15_years.yaml").read_text(encoding="utf-8")
    (tmp_path / "rules/insurance").mkdir(parents=True)
    (tmp_path / "rules/insurance/pension_15_years.yaml").write_text(
        source.replace("title: 养老", "titel: 养老").replace("2011-07-01", "2011-02-30"), encoding="utf-8"
    )
    result = load_files(tmp_path / "rules", FIXTURES / "facts")
    assert {error.field for error in result.errors} >= {"titel", "title", "effective_from"}
    assert result.rules == []


def test_yaml_dialect_is_strict_about_booleans_and_dates():
    data, errors = parse_yaml("on: 2026-11-29\nflag: yes\nreal: true\n", "x.yaml")
    assert errors == []
    assert data == {"on": "2026-11-29", "flag": "yes", "real": True}


def test_nested_duplicate_key_names_its_full_path():
    _, errors = parse_yaml("sources:\n  - title: a\n    title: b\n", "x.yaml")
    assert [(error.field, error.message) for error in errors] == [
        ("sources[0].title", "duplicate key (line 2 and line 3)")
    ]
