"""Format detection, dispatch, and the four-column CSV helper."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from canvas_observers.roster.csv_reader import read_roster
from canvas_observers.roster.model import RosterError, RosterRow
from canvas_observers.roster.sources import (
    SourceOptions,
    detect_format,
    read_source,
    to_four_column_csv,
)
from tests.wiring import HEADER

FIXTURES = Path(__file__).parent / "fixtures"
V11 = FIXTURES / "oneroster11"
V12 = FIXTURES / "oneroster12"
SDS = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "sds-v2.1-guardians"
FOUR = HEADER + "1001,ana@example.org,Ana,Lopez\n"


def test_detects_folders_by_what_they_hold(tmp_path: Path) -> None:
    """relationships.csv -> sds (even next to users.csv); users.csv -> oneroster."""
    assert detect_format(V11) == "oneroster"
    assert detect_format(V12) == "oneroster"
    (tmp_path / "users.csv").write_text("sourcedId\n", encoding="utf-8")
    (tmp_path / "relationships.csv").write_text("userSourcedId\n", encoding="utf-8")
    assert detect_format(tmp_path) == "sds"


def test_detects_zips_by_their_members(tmp_path: Path) -> None:
    """A .zip holding users.csv is OneRoster; with relationships.csv it is SDS."""
    one, sds = tmp_path / "one.zip", tmp_path / "sds.zip"
    with zipfile.ZipFile(one, "w") as zf:
        zf.writestr("out/users.csv", "sourcedId,role\n")
    with zipfile.ZipFile(sds, "w") as zf:
        zf.writestr("users.csv", "sourcedId\n")
        zf.writestr("relationships.csv", "userSourcedId\n")
    assert (detect_format(one), detect_format(sds)) == ("oneroster", "sds")


def test_detects_csv_files_by_header(tmp_path: Path) -> None:
    """sourcedId+role (with a BOM too) is OneRoster; the four columns are csv."""
    users = tmp_path / "export.csv"
    users.write_bytes(b"\xef\xbb\xbf" + (V11 / "users.csv").read_bytes())
    four = tmp_path / "roster.csv"
    four.write_text(FOUR, encoding="utf-8")
    assert detect_format(users) == "oneroster"
    assert detect_format(four) == "csv"


def test_csv_dispatches_to_the_four_column_reader(tmp_path: Path) -> None:
    """A four-column file is read by csv_reader, with its name as source."""
    four = tmp_path / "roster.csv"
    four.write_text(FOUR, encoding="utf-8")
    roster = read_source(four)
    assert [(r.student_id, r.observer_email, r.source) for r in roster.rows] == [
        ("1001", "ana@example.org", "roster.csv")
    ]


def test_missing_path_is_a_roster_error(tmp_path: Path) -> None:
    """A path that does not exist is a RosterError naming it."""
    with pytest.raises(RosterError, match="no such file"):
        read_source(tmp_path / "nope.csv")
    with pytest.raises(RosterError, match="no such file"):
        read_source(tmp_path / "nope", format="oneroster")


def test_folder_without_bundle_files_is_not_a_csv(tmp_path: Path) -> None:
    """A folder with neither users.csv nor relationships.csv gets a message saying so."""
    with pytest.raises(RosterError, match=r"neither users\.csv"):
        read_source(tmp_path)


def test_bad_zip_is_unreadable(tmp_path: Path) -> None:
    """A .zip that is not a zip stops with the file named."""
    bad = tmp_path / "export.zip"
    bad.write_bytes(b"this is not a zip")
    with pytest.raises(RosterError) as err:
        read_source(bad)
    assert err.value.source == "export.zip"


def test_sds_needs_a_bundle(tmp_path: Path) -> None:
    """--format sds on a lone CSV file says a folder or zip is needed."""
    lone = tmp_path / "users.csv"
    lone.write_bytes((V11 / "users.csv").read_bytes())
    with pytest.raises(RosterError, match=r"folder or \.zip"):
        read_source(lone, format="sds")


def test_forced_format_overrides_detection(tmp_path: Path) -> None:
    """--format csv on a OneRoster users.csv reads it as four columns (and fails so)."""
    lone = tmp_path / "users.csv"
    lone.write_bytes((V11 / "users.csv").read_bytes())
    with pytest.raises(RosterError, match="student_id"):
        read_source(lone, format="csv")


def test_empty_guardian_roles_is_refused() -> None:
    """No guardian role at all would silently give nothing: refused."""
    with pytest.raises(RosterError, match="guardian-roles"):
        read_source(V11, guardian_roles=(" ",))


def test_source_options_reads_like_read_source() -> None:
    """SourceOptions carries the CLI flags and reads the same roster."""
    opts = SourceOptions(student_id_field="{SIS}", prefer_preferred_names=False)
    assert opts.read(V11) == read_source(V11, student_id_field="{SIS}")


@pytest.mark.parametrize("source", [V11, V12, SDS])
def test_four_column_csv_round_trips_through_the_csv_reader(source: Path) -> None:
    """to_four_column_csv gives a CSV that csv_reader reads back to the same links."""
    roster = read_source(source)
    text = to_four_column_csv(roster)
    again = read_roster(io.BytesIO(text.encode("utf-8")), source="four.csv")
    assert again.problems == ()

    def key(r: RosterRow) -> tuple[str, ...]:
        return (r.student_id, r.observer_email, r.observer_first_name, r.observer_last_name)

    assert [key(r) for r in again.rows] == [key(r) for r in roster.rows]
    assert text.splitlines()[0] == (
        "student_id,observer_email,observer_first_name,observer_last_name"
    )


def test_kept_columns_are_read_from_a_four_column_csv_and_refused_for_oneroster_and_sds(
    tmp_path: Path,
) -> None:
    """Each row (valid, or rejected for its missing email) keeps the asked columns' values,
    trimmed, in the order asked; OneRoster and SDS, with fixed fields, say they cannot."""
    roster = tmp_path / "r.csv"
    roster.write_text(
        HEADER.rstrip("\n") + ",Lang,School\n1001,ana@example.org,Ana,Lopez, es ,North\n"
        "1002,,Bo,Lopez,,South\n",
        encoding="utf-8",
    )
    read = SourceOptions(keep=("school", "LANG")).read(roster)
    assert [r.extra for r in read.rows] == [(("school", "North"), ("LANG", "es"))]
    assert [(p.no_email, p.extra) for p in read.problems] == [
        (True, (("school", "South"), ("LANG", "")))
    ]
    assert SourceOptions().read(roster).rows[0].extra == ()
    for export in (V11, SDS):
        with pytest.raises(RosterError, match="fixed: the column 'Lang' can be read only"):
            SourceOptions(keep=("Lang",)).read(export)
