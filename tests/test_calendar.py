"""Working days: weekends and England and Wales bank holidays, and the expression helpers.

2026 dates used below: Good Friday 3 April, Easter Monday 6 April, spring bank holiday
25 May, summer bank holiday 31 August, Christmas Day Friday 25 December, Boxing Day on a
Saturday so the substitute is Monday 28 December; New Year's Day 2027 is a Friday.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import pytest

from engine import clock
from engine.calendar import MAX_WORKING_DAYS, WorkingCalendar, parse_moment
from engine.projection import due_moment
from engine.sandbox import RestrictedEnvironment, make_script_engine

CAL = WorkingCalendar()


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[clock.FrozenClock]:
    with clock.using(clock.FrozenClock(at(2026, 3, 6, 9, 30))) as frozen:  # a Friday
        yield frozen


# --- is_working_day / add_working_days -----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(2026, 3, 6), 1, at(2026, 3, 9)),  # Friday + 1 = Monday
        (at(2026, 3, 6), 5, at(2026, 3, 13)),  # a full week
        (at(2026, 3, 7), 1, at(2026, 3, 9)),  # Saturday + 1 = Monday
        (at(2026, 3, 8), 2, at(2026, 3, 10)),  # Sunday + 2 = Tuesday
        (at(2026, 12, 24), 1, at(2026, 12, 29)),  # Christmas, weekend, Boxing Day substitute
        (at(2026, 12, 23), 2, at(2026, 12, 29)),
        (at(2026, 12, 24), 5, at(2027, 1, 5)),  # ... and New Year's Day 2027
        (at(2026, 4, 2), 1, at(2026, 4, 7)),  # Good Friday to Easter Monday
        (at(2026, 4, 1), 2, at(2026, 4, 7)),
        (at(2026, 5, 22), 1, at(2026, 5, 26)),  # spring bank holiday Monday
        (at(2026, 8, 28), 1, at(2026, 9, 1)),  # summer bank holiday Monday
        (at(2026, 12, 31), 1, at(2027, 1, 4)),  # year boundary: 1 January 2027 is a Friday
        (at(2026, 12, 31, 23, 59), 1, at(2027, 1, 4, 23, 59)),  # same time of day
    ],
)
def test_add_working_days(start: datetime, days: int, expected: datetime) -> None:
    assert CAL.add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 6), True),
        (date(2026, 3, 7), False),
        (date(2026, 3, 8), False),
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 4, 7), True),
        (date(2026, 5, 4), False),  # early May bank holiday
        (date(2026, 5, 25), False),  # spring bank holiday
        (date(2026, 8, 31), False),  # summer bank holiday
        (date(2026, 12, 24), True),
        (date(2026, 12, 25), False),  # Christmas Day, a Friday
        (date(2026, 12, 28), False),  # Boxing Day substitute
        (date(2026, 12, 29), True),
        (date(2027, 1, 1), False),  # New Year's Day, a Friday
        (date(2027, 1, 4), True),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working
    assert CAL.is_working_day(datetime.combine(day, datetime.min.time(), UTC)) is working


def test_zero_days_is_the_start_itself_even_on_a_closed_day() -> None:
    for start in (at(2026, 3, 6), at(2026, 3, 7), at(2026, 12, 25)):
        assert CAL.add_working_days(start, 0) == start


def test_counts_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(at(2026, 3, 6), -1)
    with pytest.raises(ValueError, match="limit"):
        CAL.add_working_days(at(2026, 3, 6), MAX_WORKING_DAYS + 1)
    for bad in (1.5, "2", True, None):
        with pytest.raises(TypeError, match="whole number"):
            CAL.add_working_days(at(2026, 3, 6), bad)  # type: ignore[arg-type]


def test_time_of_day_and_zone_are_kept_across_a_clock_change() -> None:
    try:
        london = ZoneInfo("Europe/London")
    except ZoneInfoNotFoundError:
        pytest.skip("no time zone database")
    start = datetime(2026, 3, 27, 9, 0, tzinfo=london)  # Friday, GMT; BST from Sunday 29th
    result = CAL.add_working_days(start, 1)
    assert result == datetime(2026, 3, 30, 9, 0, tzinfo=london)
    assert result.utcoffset() == timedelta(hours=1)


def test_the_day_is_read_in_the_start_times_own_zone() -> None:
    bst = timezone(timedelta(hours=1))
    late_thursday = datetime(2026, 4, 2, 23, 30, tzinfo=bst)  # still Thursday in London
    assert CAL.add_working_days(late_thursday, 1) == datetime(2026, 4, 7, 23, 30, tzinfo=bst)


# --- working_days_between ------------------------------------------------------------------


def test_working_days_between() -> None:
    assert CAL.working_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1
    assert CAL.working_days_between(date(2026, 3, 6), date(2026, 3, 6)) == 0
    assert CAL.working_days_between(date(2026, 12, 24), date(2027, 1, 5)) == 5
    assert CAL.working_days_between(date(2027, 1, 5), date(2026, 12, 24)) == -5
    assert CAL.working_days_between(date(2026, 4, 2), date(2026, 4, 7)) == 1
    # England and Wales 2026: 261 weekdays, 8 bank holidays, all on weekdays.
    assert CAL.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == 253
    assert CAL.working_days_between(at(2026, 3, 6, 23), at(2026, 3, 9, 1)) == 1  # datetimes


def test_between_undoes_add_for_every_start_in_a_year() -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        start = datetime.combine(day, datetime.min.time(), UTC)
        for n in (0, 1, 2, 5, 10, 30):
            end = CAL.add_working_days(start, n)
            assert CAL.working_days_between(day, end.date()) == n, (day, n)
            assert n == 0 or CAL.is_working_day(end)
        day += timedelta(days=1)


# --- regions and the cache -----------------------------------------------------------------


def test_wales_matches_england_and_scotland_differs() -> None:
    wales, scotland = WorkingCalendar("GB", "WLS"), WorkingCalendar("GB", "SCT")
    assert wales.bank_holidays(2026) == CAL.bank_holidays(2026)
    assert CAL.is_working_day(date(2026, 1, 2)) and not scotland.is_working_day(date(2026, 1, 2))
    assert not CAL.is_working_day(date(2026, 4, 6)) and scotland.is_working_day(date(2026, 4, 6))


def test_an_unknown_region_fails_when_the_calendar_is_made() -> None:
    with pytest.raises(NotImplementedError):
        WorkingCalendar("GB", "XYZ")
    with pytest.raises(NotImplementedError):
        WorkingCalendar("XX")


def test_holidays_are_looked_up_once_per_year(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = holidays.country_holidays

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("years"))
        return real(*args, **kwargs)

    monkeypatch.setattr(holidays, "country_holidays", counting)
    calendar = WorkingCalendar()
    for _ in range(3):
        calendar.add_working_days(at(2026, 12, 20), 30)
        calendar.working_days_between(date(2026, 1, 1), date(2027, 12, 31))
    assert {2026, 2027} <= set(calls)
    assert len(calls) == len(set(calls))


def test_lookups_are_fast() -> None:
    started = time.perf_counter()
    CAL.add_working_days(at(2026, 1, 1), MAX_WORKING_DAYS)
    for _ in range(1_000):
        CAL.add_working_days(at(2026, 12, 24), 10)
    CAL.working_days_between(date(2020, 1, 1), date(2039, 12, 31))
    assert time.perf_counter() - started < 1.0


# --- the helpers ---------------------------------------------------------------------------


def test_helpers_follow_the_clock(frozen: clock.FrozenClock) -> None:
    helpers = CAL.helpers()
    assert sorted(helpers) == ["add_days", "working_days", "working_days_from"]
    assert helpers["working_days"](1) == "2026-03-09T09:30:00+00:00"  # Friday -> Monday
    assert helpers["working_days"](0) == "2026-03-06T09:30:00+00:00"
    assert helpers["add_days"](3) == "2026-03-09T09:30:00+00:00"
    frozen.set(at(2026, 12, 24, 16, 45))
    assert helpers["working_days"](2) == "2026-12-30T16:45:00+00:00"
    assert helpers["add_days"](8) == "2027-01-01T16:45:00+00:00"  # calendar days: any day
    frozen.advance(days=1, seconds=0.5)
    assert helpers["working_days"](1) == "2026-12-29T16:45:00+00:00"  # to the second


def test_helpers_are_made_once_and_read_the_clock_at_each_call() -> None:
    helpers = WorkingCalendar().helpers()
    with clock.using(clock.FrozenClock(at(2026, 4, 2))):
        assert helpers["working_days"](1) == "2026-04-07T10:00:00+00:00"
    with clock.using(clock.FrozenClock(at(2026, 4, 7))):
        assert helpers["working_days"](1) == "2026-04-08T10:00:00+00:00"


def test_helpers_answer_in_utc_whatever_the_clock_zone() -> None:
    helpers = CAL.helpers()
    bst = timezone(timedelta(hours=1))
    with clock.using(clock.FrozenClock(datetime(2026, 5, 22, 12, 0, tzinfo=bst))):
        assert helpers["working_days"](1) == "2026-05-26T11:00:00+00:00"
        assert helpers["add_days"](1) == "2026-05-23T11:00:00+00:00"


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        ("2026-12-24", 2, "2026-12-30T00:00:00+00:00"),  # a date: midnight UTC
        ("2026-12-24T09:00:00+00:00", 1, "2026-12-29T09:00:00+00:00"),
        ("2026-12-24T09:00:00Z", 1, "2026-12-29T09:00:00+00:00"),
        ("2026-12-24T09:00:00", 1, "2026-12-29T09:00:00+00:00"),  # no offset: UTC
        ("2026-04-02T17:00:00+01:00", 1, "2026-04-07T16:00:00+00:00"),  # day read in +01:00
        (" 2026-03-06 ", 1, "2026-03-09T00:00:00+00:00"),
    ],
)
def test_working_days_from(start: str, days: int, expected: str) -> None:
    assert CAL.helpers()["working_days_from"](start, days) == expected


def test_helper_errors_say_what_is_wrong(frozen: clock.FrozenClock) -> None:
    helpers = CAL.helpers()
    with pytest.raises(ValueError, match="not an ISO 8601 date"):
        helpers["working_days_from"]("next Tuesday", 1)
    with pytest.raises(ValueError, match="negative"):
        helpers["working_days"](-2)
    with pytest.raises(ValueError, match="negative"):
        helpers["add_days"](-1)
    with pytest.raises(ValueError, match="limit"):
        helpers["add_days"](10**9)
    with pytest.raises(TypeError):
        helpers["working_days_from"](20261224, 1)


def test_parse_moment_accepts_dates_and_datetimes() -> None:
    assert parse_moment(date(2026, 3, 6)) == at(2026, 3, 6, 0)
    assert parse_moment(datetime(2026, 3, 6, 10)) == at(2026, 3, 6)
    assert parse_moment(at(2026, 3, 6)) == at(2026, 3, 6)


def test_helper_values_are_due_dates_and_timer_dates(frozen: clock.FrozenClock) -> None:
    """What the engine does with a due-date expression's value, and a timer's timeDate."""
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

    value = CAL.helpers()["working_days"](2)
    assert due_moment(value, clock.now()) == at(2026, 3, 10, 9, 30)
    assert TimerEventDefinition.get_datetime(value) == at(2026, 3, 10, 9, 30)


# --- through the sandbox -------------------------------------------------------------------


def test_helpers_in_sandboxed_expressions(frozen: clock.FrozenClock) -> None:
    environment = RestrictedEnvironment(CAL.helpers())
    assert environment.evaluate("working_days(2)", {}) == "2026-03-10T09:30:00+00:00"
    assert (
        environment.evaluate("working_days(acknowledge_days)", {"acknowledge_days": 1})
        == "2026-03-09T09:30:00+00:00"
    )
    due = '"PT" + str(baseline_hours) + "H" if urgency == "urgent" else working_days(baseline_days)'
    data = {"baseline_hours": 24, "baseline_days": 5}
    assert environment.evaluate(due, {**data, "urgency": "urgent"}) == "PT24H"
    assert environment.evaluate(due, {**data, "urgency": "routine"}) == "2026-03-13T09:30:00+00:00"
    assert (
        environment.evaluate(
            "working_days_from(next_review_date, 1)", {"next_review_date": "2026-12-24"}
        )
        == "2026-12-29T00:00:00+00:00"
    )
    assert environment.evaluate("add_days(1)", {}) == "2026-03-07T09:30:00+00:00"
    with pytest.raises(ValueError, match="negative"):
        environment.evaluate("working_days(-1)", {})


def test_helpers_in_a_sandboxed_script(frozen: clock.FrozenClock) -> None:
    engine = make_script_engine(CAL.helpers())
    data = {"acknowledge_days": 2}
    engine.environment.execute("acknowledge_by = working_days(acknowledge_days)", data)
    assert data == {"acknowledge_days": 2, "acknowledge_by": "2026-03-10T09:30:00+00:00"}
