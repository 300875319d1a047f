"""Fixtures of the unit tests of `bot`: a migrated SQLite app store per test and a valid case submission."""

from tests.cases.conftest import db_path, db_url, service, submission  # noqa: F401  (fixtures)
