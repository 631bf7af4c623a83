"""Entry times: the one form every entry's `time` has."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from armory.errors import InvalidInput
from armory.ledger.entry import TIME_PATTERN, format_time


def test_a_time_is_written_in_utc_to_the_millisecond_truncated() -> None:
    moment = datetime(2026, 11, 24, 5, 0, 0, 999_999, tzinfo=timezone(timedelta(hours=-5)))
    assert format_time(moment) == "2026-11-24T10:00:00.999Z"
    assert format_time(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"


def test_a_year_before_1000_keeps_four_digits() -> None:
    assert format_time(datetime(5, 1, 2, 3, 4, 5, 1000, tzinfo=UTC)) == "0005-01-02T03:04:05.001Z"


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        format_time(datetime(2026, 1, 1))


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=8))]
        ),
    )
)
def test_every_time_matches_the_entry_pattern_and_reads_back_as_the_same_millisecond(
    moment: datetime,
) -> None:
    written = format_time(moment)
    assert TIME_PATTERN.match(written)
    back = datetime.strptime(written, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    assert back == utc.replace(microsecond=utc.microsecond // 1000 * 1000)
