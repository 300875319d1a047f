"""CaseService on a real SQLite file: creation, idempotence, validation, lookups, status changes."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime

import pytest

from bot.cases import (
    CASE_ID_LETTERS,
    CASE_TYPES,
    CaseNotFound,
    CaseRecord,
    CaseService,
    InvalidTransition,
    case_id_check_letter,
    normalize_case_id,
    valid_case_id,
)
from bot.handoffs import HandoffService
from bot.store import AppStore, create_engine_for
from tests.cases.conftest import count_rows, make_submission
from tests.support.clock import FakeClock

# ------------------------------------------------------------------------------------------- creation


def test_create_case_stores_every_field(service, db_path, submission):
    case = service.create_case(submission)
    assert isinstance(case, CaseRecord)
    assert case.status == "新建"
    assert (case.case_type, case.worker_name, case.phone, case.county, case.employer) == (
        "wage_arrears",
        "马建国",
        "13812345678",
        "金凤区",
        "宁夏某建筑劳务公司",
    )
    assert (case.amount_owed, case.owed_period, case.consent) == (12000, "3个月", True)
    assert (case.sender_id, case.channel, case.dedupe_key) == ("worker-1", "rest", "worker-1:intake:1")
    assert case.created_at.tzinfo is not None and case.created_at == case.updated_at
    assert case.phone_masked == "138****5678"
    assert case.case_type_label == "拖欠工资"
    assert service.get_case(case.case_id) == case
    assert count_rows(db_path, "cases") == 1
    [event] = service.case_history(case.case_id)
    assert (event.status, event.actor) == ("新建", "worker")


def test_records_are_frozen_plain_dataclasses(service, submission):
    case = service.create_case(submission)
    assert dataclasses.is_dataclass(case)
    with pytest.raises(dataclasses.FrozenInstanceError):
        case.status = "已办结"


def test_case_numbers_are_nx_china_date_and_a_daily_sequence(db_url):
    # 17:00 UTC on 28 November is already 29 November in Ningxia (UTC+8).
    clock = FakeClock(datetime(2026, 11, 28, 17, 0, tzinfo=UTC))
    service = CaseService(AppStore(db_url), clock=clock)
    first = service.create_case(make_submission(dedupe_key="a"))
    second = service.create_case(make_submission(dedupe_key="b"))
    clock.advance(days=1)
    next_day = service.create_case(make_submission(dedupe_key="c"))
    # The readable part, then three random letters and a check letter.
    assert [first.case_id[:12], second.case_id[:12], next_day.case_id[:12]] == [
        "NX2611290001",
        "NX2611290002",
        "NX2611300001",
    ]
    assert all(len(case.case_id) == 16 and valid_case_id(case.case_id) for case in (first, second, next_day))
    assert all(char in "ABCDEFGHJKMNPQRSTUVWXYZ" for char in first.case_id[12:])


def test_case_numbers_carry_random_letters_and_a_check_letter(db_url):
    clock = FakeClock(datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
    service = CaseService(AppStore(db_url), clock=clock)
    numbers = [service.create_case(make_submission(dedupe_key=f"k{i}")).case_id for i in range(12)]
    assert len({number[12:15] for number in numbers}) > 6  # random, not derived from the sequence
    for number in numbers:
        assert case_id_check_letter(number[:-1]) == number[-1]
        wrong = number[:-1] + next(c for c in "ABCD" if c != number[-1])
        assert not valid_case_id(wrong)
        for position in range(12, 14):  # any two neighbouring random letters swapped
            swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
            assert swapped == number or not valid_case_id(swapped)
    for first, second in itertools.permutations(CASE_ID_LETTERS, 2):  # every pair, not only the ones drawn
        body = f"NX2612020001{first}{second}A"
        assert case_id_check_letter(body) != case_id_check_letter(f"NX2612020001{second}{first}A")
    # Numbers issued before the letters stay valid; a letterless number dated after the change was never issued.
    assert valid_case_id("NX2611290007") and not valid_case_id("NX2612030007")
    assert not valid_case_id("NX2612020007KQF") and not valid_case_id("NX2612020007KQFI")


def test_the_sequence_grows_past_four_digits(db_url):
    clock = FakeClock(datetime(2026, 3, 1, 4, 0, tzinfo=UTC))
    service = CaseService(AppStore(db_url), clock=clock)
    engine = create_engine_for(db_url)
    with engine.begin() as connection:  # a busy day: 9999 cases already
        connection.exec_driver_sql(
            "INSERT INTO cases (case_id, sequence_id, case_type, worker_name, phone, county, employer, description, "
            "consent, status, sender_id, channel, dedupe_key, created_at, updated_at) VALUES ('NX2603019999', "
            "'NX2603019999', 'other', 'x', "
            "'13800000000', '兴庆区', 'y', '', 1, '新建', 's', 'rest', 'old', '2026-03-01 03:00:00', "
            "'2026-03-01 03:00:00')"
        )
    engine.dispose()
    assert service.create_case(make_submission(dedupe_key="n1")).case_id[:13] == "NX26030110000"
    assert service.create_case(make_submission(dedupe_key="n2")).case_id[:13] == "NX26030110001"


def test_the_same_dedupe_key_gives_the_same_case(service, db_path, submission):
    first = service.create_case(submission)
    again = service.create_case(submission)
    changed = service.create_case(dataclasses.replace(submission, amount_owed=99999, description="重复发送"))
    assert again == first and changed == first
    assert count_rows(db_path, "cases") == 1
    assert count_rows(db_path, "case_events") == 1


def test_without_a_key_an_identical_submission_is_recorded_once(service, db_path):
    first = service.create_case(make_submission(dedupe_key=None, phone="138 1234 5678"))
    again = service.create_case(make_submission(dedupe_key=None, phone="13812345678"))
    other = service.create_case(make_submission(dedupe_key=None, amount_owed=5000))
    assert again.case_id == first.case_id
    assert other.case_id != first.case_id
    assert first.dedupe_key.startswith("sha256:")
    assert count_rows(db_path, "cases") == 2


def test_a_race_lost_between_lookup_and_insert_returns_the_winner(service, db_path, submission, monkeypatch):
    """The UNIQUE constraint decides: an insert that collides on the key reads the existing case instead."""
    winner = service.create_case(submission)
    lookups = []
    real = CaseService._by_dedupe_key

    def first_lookup_misses(self, key):
        lookups.append(key)
        return None if len(lookups) == 1 else real(self, key)

    monkeypatch.setattr(CaseService, "_by_dedupe_key", first_lookup_misses)
    assert service.create_case(submission) == winner
    assert len(lookups) == 2
    assert count_rows(db_path, "cases") == 1


def test_text_fields_are_trimmed(service):
    case = service.create_case(make_submission(worker_name="  马建国 ", employer=" 某公司\n", owed_period="  "))
    assert (case.worker_name, case.employer, case.owed_period) == ("马建国", "某公司", None)


def test_the_phone_is_stored_in_canonical_form(service):
    case = service.create_case(make_submission(phone="+86 139-5112-2334"))
    assert case.phone == "13951122334"


def test_amount_may_be_unknown(service):
    assert service.create_case(make_submission(amount_owed=None)).amount_owed is None


@pytest.mark.parametrize("case_type", CASE_TYPES)
def test_every_case_type_is_accepted(service, case_type):
    assert service.create_case(make_submission(case_type=case_type, dedupe_key=case_type)).case_type == case_type


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"consent": False}, "consent"),
        ({"consent": None}, "consent"),
        ({"consent": "yes"}, "consent"),
        ({"phone": "1381234567"}, "mobile"),
        ({"phone": "138123456789"}, "mobile"),
        ({"phone": "23812345678"}, "mobile"),
        ({"phone": "12012345678"}, "mobile"),
        ({"phone": "0951-5012345"}, "mobile"),
        ({"phone": ""}, "mobile"),
        ({"county": "银川"}, "county"),
        ({"county": "金凤"}, "county"),
        ({"county": "朝阳区"}, "county"),
        ({"county": ""}, "county"),
        ({"case_type": "robbery"}, "case_type"),
        ({"worker_name": "  "}, "worker_name"),
        ({"employer": ""}, "employer"),
        ({"amount_owed": -1}, "amount_owed"),
        ({"amount_owed": 12000.5}, "amount_owed"),
        ({"amount_owed": "12000"}, "amount_owed"),
        ({"amount_owed": True}, "amount_owed"),
        ({"amount_owed": 10**9}, "amount_owed"),
        ({"description": "欠" * 2001}, "description"),
        ({"worker_name": "马" * 65}, "worker_name"),
        ({"dedupe_key": ""}, "dedupe_key"),
        ({"dedupe_key": "k" * 129}, "dedupe_key"),
        ({"sender_id": ""}, "sender_id"),
        ({"channel": " "}, "channel"),
        ({"sender_id": "s" * 256}, "sender_id"),
    ],
)
def test_invalid_submissions_are_refused_with_a_clear_error_and_nothing_stored(service, db_path, changes, message):
    with pytest.raises(ValueError, match=message):
        service.create_case(make_submission(**changes))
    assert count_rows(db_path, "cases") == 0


def test_the_error_for_a_bad_phone_does_not_repeat_the_number(service):
    with pytest.raises(ValueError) as error:
        service.create_case(make_submission(phone="1391234567899"))
    assert "1391234567899" not in str(error.value)


# ------------------------------------------------------------------------------------------- lookups


def test_case_status_needs_the_matching_phone(service, submission):
    case = service.create_case(submission)
    assert service.case_status(case.case_id, "13812345678") == case
    assert service.case_status(case.case_id, "138-1234-5678") == case
    assert service.case_status(case.case_id.lower(), "１３８１２３４５６７８") == case
    assert service.case_status(case.case_id, "13812345679") is None
    assert service.case_status(case.case_id, "") is None
    assert service.case_status(case.case_id, "不知道") is None
    assert service.case_status("NX0000000001", "13812345678") is None


def test_case_numbers_are_read_with_spaces_dashes_and_full_width(service, submission):
    case = service.create_case(submission)
    spaced = f"{case.case_id[:2].lower()} {case.case_id[2:8]}-{case.case_id[8:]}"
    assert service.get_case(spaced) == case
    assert normalize_case_id("ｎｘ２６１１２９０００７") == "NX2611290007"
    assert service.get_case("NX9999999999") is None
    assert service.get_case("") is None


def test_list_cases_filters_and_orders_newest_first(db_url):
    clock = FakeClock(datetime(2026, 5, 1, 2, 0, tzinfo=UTC))
    service = CaseService(AppStore(db_url), clock=clock)
    made = []
    for index, (case_type, county) in enumerate(
        [("wage_arrears", "金凤区"), ("work_injury", "原州区"), ("wage_arrears", "原州区"), ("other", "金凤区")]
    ):
        made.append(service.create_case(make_submission(case_type=case_type, county=county, dedupe_key=str(index))))
        clock.advance(minutes=5)
    service.change_status(made[0].case_id, "处理中", actor="op")
    ids = lambda cases: [case.case_id for case in cases]  # noqa: E731
    assert ids(service.list_cases()) == ids(reversed(made))
    assert ids(service.list_cases(case_type="wage_arrears")) == [made[2].case_id, made[0].case_id]
    assert ids(service.list_cases(county="原州区")) == [made[2].case_id, made[1].case_id]
    assert ids(service.list_cases(status="处理中")) == [made[0].case_id]
    assert ids(service.list_cases(status="新建", county="金凤区")) == [made[3].case_id]
    assert ids(service.list_cases(limit=2)) == [made[3].case_id, made[2].case_id]
    assert service.list_cases(status="已办结") == []


def test_list_cases_refuses_unknown_filters(service):
    with pytest.raises(ValueError, match="status"):
        service.list_cases(status="closed")
    with pytest.raises(ValueError, match="case_type"):
        service.list_cases(case_type="wages")


# ------------------------------------------------------------------------------------------- statuses


def test_status_moves_forward_with_history(service, submission):
    case = service.create_case(submission)
    in_progress = service.change_status(case.case_id, "处理中", actor="op-zhang", note="已联系用人单位")
    assert in_progress.status == "处理中" and in_progress.updated_at >= case.updated_at
    closed = service.change_status(case.case_id, "已办结", actor="op-zhang", note="工资已结清")
    assert closed.status == "已办结"
    assert service.get_case(case.case_id).status == "已办结"
    history = service.case_history(case.case_id)
    assert [(e.status, e.actor, e.note) for e in history] == [
        ("新建", "worker", "登记（rest）"),
        ("处理中", "op-zhang", "已联系用人单位"),
        ("已办结", "op-zhang", "工资已结清"),
    ]


def test_backward_steps_need_a_note(service, db_path, submission):
    case = service.create_case(submission)
    service.change_status(case.case_id, "处理中", actor="op-zhang")
    with pytest.raises(InvalidTransition, match="note"):
        service.change_status(case.case_id, "新建", actor="op-zhang")
    assert service.change_status(case.case_id, "新建", actor="op-zhang", note="转给别人处理").status == "新建"
    service.change_status(case.case_id, "处理中", actor="op-li")
    service.change_status(case.case_id, "已办结", actor="op-li")
    with pytest.raises(InvalidTransition, match="note"):
        service.change_status(case.case_id, "处理中", actor="op-li", note="  ")
    assert service.change_status(case.case_id, "处理中", actor="op-li", note="工人说钱没到账").status == "处理中"
    assert count_rows(db_path, "case_events") == 6


@pytest.mark.parametrize(
    "path, refused",
    [
        ([], "已办结"),
        ([], "新建"),
        (["处理中"], "处理中"),
        (["处理中", "已办结"], "新建"),
        (["处理中", "已办结"], "已办结"),
    ],
)
def test_transitions_not_allowed_are_refused_and_change_nothing(service, db_path, submission, path, refused):
    case = service.create_case(submission)
    for status in path:
        service.change_status(case.case_id, status, actor="op")
    before = service.get_case(case.case_id)
    with pytest.raises(InvalidTransition):
        service.change_status(case.case_id, refused, actor="op", note="试试")
    assert service.get_case(case.case_id) == before
    assert count_rows(db_path, "case_events") == 1 + len(path)


def test_change_status_errors(service, submission):
    case = service.create_case(submission)
    with pytest.raises(CaseNotFound):
        service.change_status("NX0000000009", "处理中", actor="op")
    with pytest.raises(InvalidTransition, match="unknown status"):
        service.change_status(case.case_id, "closed", actor="op")
    with pytest.raises(ValueError, match="actor"):
        service.change_status(case.case_id, "处理中", actor=" ")
    assert issubclass(InvalidTransition, ValueError)


def test_two_services_changing_the_same_case_cannot_both_win(db_url, submission):
    """The update is a compare-and-set on the old status: a stale writer is refused, not silently applied."""
    one, two = CaseService(AppStore(db_url)), CaseService(AppStore(db_url))
    case = one.create_case(submission)
    one.change_status(case.case_id, "处理中", actor="op-1")
    one.change_status(case.case_id, "已办结", actor="op-1")
    with pytest.raises(InvalidTransition):
        two.change_status(case.case_id, "已办结", actor="op-2")
    assert [e.actor for e in two.case_history(case.case_id)] == ["worker", "op-1", "op-1"]


def test_services_on_one_store_see_each_others_records(db_url, submission):
    store = AppStore(db_url)
    cases, handoffs = CaseService(store), HandoffService(store)
    case = cases.create_case(submission)
    handoff = handoffs.record_handoff("worker-1", "rest", "case_intake", reason="intake")
    assert cases.get_case(case.case_id) == case and handoffs.get_handoff(handoff.id) == handoff
    assert HandoffService(AppStore(db_url)).list_handoffs() == [handoff]  # another process's services see it too


# ------------------------------------------------------------------------------------------- guarded look-ups


def _guarded(db_url):
    clock = FakeClock(datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
    service = CaseService(AppStore(db_url), clock=clock)
    case = service.create_case(make_submission(dedupe_key="real"))
    return service, clock, case


def test_a_look_up_shows_the_message_to_the_worker_never_the_internal_note(db_url):
    service, clock, case = _guarded(db_url)
    service.change_status(case.case_id, "处理中", "op", note="内部：用人单位有背景", worker_message="已受理，请等电话")
    clock.advance(minutes=1)
    service.add_note(case.case_id, "op", note="内部：再催一次")
    found = service.look_up(case.case_id, case.phone, "worker-1")
    assert found.case == service.get_case(case.case_id) and not found.refused
    assert found.worker_message == "已受理，请等电话"
    clock.advance(minutes=1)
    service.add_note(case.case_id, "op", worker_message="下周一上午到金凤区人社局")
    assert service.look_up(case.case_id, case.phone, "worker-1").worker_message == "下周一上午到金凤区人社局"
    assert [e.worker_message for e in service.case_history(case.case_id)][-1] == "下周一上午到金凤区人社局"
    with pytest.raises(ValueError):
        service.add_note(case.case_id, "op")


def test_failed_look_ups_back_off_exponentially_then_stop_for_the_day(db_url):
    service, clock, case = _guarded(db_url)
    wrong = case.case_id[:-1] + ("A" if case.case_id[-1] != "A" else "B")
    assert service.look_up(wrong, case.phone, "attacker").case is None
    # Straight away: backing off (1 s), nothing checked, not even the right number.
    assert service.look_up(case.case_id, case.phone, "attacker").refused
    for failures in range(1, 5):
        clock.advance(seconds=2 ** (failures - 1))
        outcome = service.look_up(f"NX261202{failures:04d}", case.phone, "attacker")
        assert outcome.case is None and not outcome.refused
    assert service.lookup_failure_summary().failures == 5
    clock.advance(hours=1)
    assert service.look_up(case.case_id, case.phone, "attacker").refused  # 5 failures today: refused unchecked
    # Another conversation guessing with the same phone is refused too (the phone key is blocked) ...
    assert service.look_up(case.case_id, case.phone, "attacker-2").refused
    # ... but the worker's own conversation still gets the answer.
    assert service.look_up(case.case_id, case.phone, "worker-1").case is not None
    summary = service.lookup_failure_summary()
    # attacker-2's refused guess counts against the phone (and the number): fresh conversations cannot wait out the
    # back-off one after another.
    assert ("phone", "138****5678", 6) in summary.top_keys
    clock.advance(hours=24)
    assert service.look_up(case.case_id, case.phone, "attacker").case is not None  # the window has passed


def test_guesses_spread_over_fresh_conversations_reach_the_phones_daily_limit(db_url):
    """The attack the security test performs, at the service: every guess from a new conversation while the phone
    backs off is refused unchecked and still counted, so the phone reaches the daily limit without waiting and the
    right number from yet another conversation is refused; the recording conversation is still answered."""
    service, clock, case = _guarded(db_url)
    for attacker in range(12):
        outcome = service.look_up(f"NX261202{attacker + 1:04d}", case.phone, f"attacker-{attacker}")
        assert outcome.case is None
        clock.advance(seconds=0.1)
    clock.advance(minutes=10)  # every back-off below the daily limit has long run out
    assert service.look_up(case.case_id, case.phone, "attacker-new").refused
    assert service.look_up(case.case_id, case.phone, "worker-1").case is not None


def test_a_guessed_case_number_is_refused_before_the_database(db_url):
    service, _clock, case = _guarded(db_url)
    assert service.look_up(case.case_id[:12], case.phone, "worker-1").case is None  # letters left off
    assert service.lookup_failure_summary().failures == 1
