"""Time zone names: IANA names and the Rails names Canvas's settings show, refused with a
message saying what is accepted."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from canvas_observers.core.timezone import FROM_CANVAS, RAILS_ZONES, chosen, zone_named


def test_iana_and_rails_names() -> None:
    assert zone_named("America/Chicago") == ZoneInfo("America/Chicago")
    assert zone_named(" Central Time (US & Canada) ") == ZoneInfo("America/Chicago")
    assert zone_named("Alaska") == ZoneInfo("America/Juneau")


def test_every_rails_name_maps_to_a_zone_this_computer_knows() -> None:
    for name in RAILS_ZONES:
        zone_named(name)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../../etc/passwd", "/etc/localtime"])
def test_a_name_that_is_no_zone_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not a time zone: give an IANA name"):
        zone_named(name)


def test_the_choice_says_its_zone_and_where_it_came_from() -> None:
    choice = chosen("Eastern Time (US & Canada)", FROM_CANVAS)
    assert (choice.name, choice.key, choice.stated) == (
        "America/New_York",
        "America/New_York",
        "America/New_York, from Canvas",
    )
