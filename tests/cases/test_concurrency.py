"""Real threads against one SQLite file: one case per dedupe key and unique case numbers, with no Python lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.cases import CaseService
from bot.store import AppStore
from tests.cases.conftest import count_rows, make_submission

THREADS = 8


def _run_together(count: int, work):
    """Run `work(index)` in `count` threads released at the same moment; return results in index order."""
    barrier = threading.Barrier(count)

    def start(index):
        barrier.wait(timeout=10)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count), timeout=120))


@pytest.mark.parametrize("shared_engine", [True, False], ids=["one-engine", "engine-per-thread"])
def test_the_same_key_submitted_at_once_gives_one_case(db_url, db_path, shared_engine):
    shared = CaseService(AppStore(db_url))
    services = [shared if shared_engine else CaseService(AppStore(db_url)) for _ in range(THREADS)]
    submission = make_submission(dedupe_key="wx-openid-9:intake:1")

    results = _run_together(THREADS, lambda index: services[index].create_case(submission))

    assert len({case.case_id for case in results}) == 1
    assert len(set(results)) == 1
    assert count_rows(db_path, "cases") == 1
    assert count_rows(db_path, "case_events") == 1


@pytest.mark.parametrize("shared_engine", [True, False], ids=["one-engine", "engine-per-thread"])
def test_case_numbers_stay_unique_and_dense_under_concurrency(db_url, db_path, shared_engine):
    per_thread = 5
    shared = CaseService(AppStore(db_url))
    services = [shared if shared_engine else CaseService(AppStore(db_url)) for _ in range(THREADS)]

    def submit_several(index):
        return [
            services[index].create_case(make_submission(dedupe_key=f"t{index}-{n}", sender_id=f"w{index}"))
            for n in range(per_thread)
        ]

    cases = [case for batch in _run_together(THREADS, submit_several) for case in batch]

    ids = sorted(case.case_id for case in cases)
    assert len(set(ids)) == THREADS * per_thread
    assert count_rows(db_path, "cases") == THREADS * per_thread
    # One day's sequence, with no gaps (they all fall on the same day unless the test straddles midnight in China).
    if len({case_id[:8] for case_id in ids}) == 1:
        assert [int(case_id[8:12]) for case_id in ids] == list(range(1, THREADS * per_thread + 1))


def test_duplicates_and_distinct_submissions_mixed(db_url, db_path):
    """Half the threads repeat one key, the others submit their own: 1 + THREADS/2 cases."""
    service = CaseService(AppStore(db_url))

    def submit(index):
        key = "same" if index % 2 == 0 else f"own-{index}"
        return service.create_case(make_submission(dedupe_key=key))

    results = _run_together(THREADS, submit)
    same = {case.case_id for index, case in enumerate(results) if index % 2 == 0}
    assert len(same) == 1
    assert len({case.case_id for case in results}) == 1 + THREADS // 2
    assert count_rows(db_path, "cases") == 1 + THREADS // 2


def test_concurrent_status_changes_one_wins(db_url, db_path):
    service = CaseService(AppStore(db_url))
    case = service.create_case(make_submission())
    service.change_status(case.case_id, "处理中", actor="op-0")

    def close(index):
        try:
            return CaseService(AppStore(db_url)).change_status(case.case_id, "已办结", actor=f"op-{index}")
        except ValueError as error:  # InvalidTransition: someone else closed it first
            return error

    results = _run_together(THREADS, close)
    winners = [result for result in results if not isinstance(result, Exception)]
    assert len(winners) == 1
    assert service.get_case(case.case_id).status == "已办结"
    assert count_rows(db_path, "case_events") == 3
