"""Timezone lookup and autocomplete choices."""

from __future__ import annotations

import pytest

from bot.delivery.schedules import ScheduleError
from bot.delivery.timezones import COMMON_TIMEZONES, parse_timezone, timezone_choices


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Europe/London", "Europe/London"),
        ("europe/LONDON", "Europe/London"),
        (" America/New York ", "America/New_York"),
        ("asia / dubai", "Asia/Dubai"),
        ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
        ("utc", "UTC"),
        ("", "UTC"),
        ("   ", "UTC"),
    ],
)
def test_parse_timezone_ignores_case_and_spacing(typed: str, key: str) -> None:
    assert parse_timezone(typed).key == key


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "London",
            "'London' is not a timezone; did you mean Europe/London? "
            "Otherwise use an IANA name such as Europe/London or Asia/Dubai",
        ),
        (
            "Europe/Londn",
            "'Europe/Londn' is not a timezone; did you mean Europe/London? "
            "Otherwise use an IANA name such as Europe/London or Asia/Dubai",
        ),
        ("Mars/Olympus", "'Mars/Olympus' is not a timezone; use an IANA name such as Europe/London or Asia/Dubai"),
        ("localtime", "'localtime' is not a timezone; use an IANA name such as Europe/London or Asia/Dubai"),
    ],
)
def test_parse_timezone_errors_suggest_names(typed: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_timezone(typed)
    assert str(caught.value) == message


def test_choices_when_nothing_is_typed_are_the_common_zones() -> None:
    assert timezone_choices("") == list(COMMON_TIMEZONES)
    assert timezone_choices("", limit=3) == ["UTC", "Asia/Jerusalem", "Asia/Dubai"]
    assert all(parse_timezone(name).key == name for name in COMMON_TIMEZONES)


def test_choices_find_a_city_by_the_start_of_its_name() -> None:
    assert timezone_choices("lon")[0] == "Europe/London"
    assert timezone_choices("new y") == ["America/New_York"]
    assert timezone_choices("jerus") == ["Asia/Jerusalem"]
    # Both start with "dub"; the common one comes first.
    assert timezone_choices("dub")[:2] == ["Asia/Dubai", "Europe/Dublin"]


def test_choices_put_prefixes_before_substrings_and_respect_the_limit() -> None:
    choices = timezone_choices("am", limit=1000)
    assert choices[0] == "America/New_York"  # the first common zone among the prefix matches
    starts = [name.lower().startswith("am") for name in choices]
    assert starts == sorted(starts, reverse=True)  # every prefix match before every other match
    assert not all(starts)  # "Asia/Amman" and friends come after
    assert "Asia/Amman" in choices
    assert len(timezone_choices("am")) == 25
    assert timezone_choices("york") == ["America/New_York"]  # substring only
    assert timezone_choices("zzzz") == []
