"""The core promise: a district read from its bundle and fetched from the API gives the same
roster through the existing bundle reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from canvas_observers.roster.sources import SourceRead, read_source_detailed

from .helpers import api_config, fake_api, fetch, state

MOCKER = Path(__file__).resolve().parents[1] / "fixtures" / "samples" / "oneroster-mocker"
V11 = Path(__file__).resolve().parents[1] / "roster" / "fixtures" / "oneroster11"


def assert_same(bundle: SourceRead, fetched: SourceRead) -> None:
    assert fetched.roster.rows == bundle.roster.rows
    assert fetched.roster.problems == bundle.roster.problems
    assert fetched.roster.removal_candidates == bundle.roster.removal_candidates
    assert fetched.roster.duplicates == bundle.roster.duplicates
    assert fetched.guardian_ids == bundle.guardian_ids
    assert fetched.format == "oneroster"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize("student_id_field", ["identifier", "{SIS}"])
async def test_api_gives_the_bundles_rows(
    samples: dict[str, Path], tmp_path: Path, version: str, student_id_field: str
) -> None:
    """The demo district through the fake API (paged, 100 a page) reads as its bundle does."""
    app = fake_api(samples[version], version)
    result = await fetch(app, tmp_path / "snap", api_config(version))
    want = read_source_detailed(
        samples[version], format="oneroster", student_id_field=student_id_field
    )
    got = read_source_detailed(
        tmp_path / "snap", format="oneroster", student_id_field=student_id_field
    )
    assert len(want.roster.rows) > 300 and want.roster.problems and want.roster.removal_candidates
    assert_same(want, got)
    assert result.users == len(state(app).users) and result.pages == 6
    assert (result.roles > result.users) == (version == "1.2")  # the teacher-parent's 2 roles


async def test_preferred_names_and_legal_names_agree(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A 1.2 bundle's preferred names survive the API's preferredFirstName/LastName spelling."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for name in ("roles.csv", "manifest.csv"):
        (bundle / name).write_bytes((samples["1.2"] / name).read_bytes())
    text = (samples["1.2"] / "users.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    header = lines[0].split(",")
    first_guardian = lines[1].split(",")
    first_guardian[header.index("preferredGivenName")] = "Mimi"
    lines[1] = ",".join(first_guardian)
    (bundle / "users.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    await fetch(fake_api(bundle, "1.2"), tmp_path / "snap", api_config("1.2"))
    for prefer in (True, False):
        want = read_source_detailed(bundle, format="oneroster", prefer_preferred_names=prefer)
        got = read_source_detailed(
            tmp_path / "snap", format="oneroster", prefer_preferred_names=prefer
        )
        assert_same(want, got)
        assert ("Mimi" in {r.observer_first_name for r in got.roster.rows}) == prefer


async def test_public_sample_export_reads_the_same(tmp_path: Path) -> None:
    """A public faker-made 1.1 export (2,000 users) reads the same from the API, 1000 a page."""
    app = fake_api(MOCKER, "1.1")
    await fetch(app, tmp_path / "snap", api_config("1.1", page_size=1000))
    assert_same(
        read_source_detailed(MOCKER, format="oneroster"),
        read_source_detailed(tmp_path / "snap", format="oneroster"),
    )


async def test_a_guardian_without_email_keeps_their_names_through_the_api(
    tmp_path: Path,
) -> None:
    """A guardian the API gives no email reads as the bundle's no_email row: their names,
    guardian id and student, not an invalid row."""
    await fetch(fake_api(V11, "1.1"), tmp_path / "snap", api_config("1.1"))
    fetched = read_source_detailed(tmp_path / "snap", format="oneroster")
    assert_same(read_source_detailed(V11, format="oneroster"), fetched)
    (nomail,) = [p for p in fetched.roster.problems if p.no_email]
    assert (nomail.student_id, nomail.observer_name, nomail.guardian_id) == (
        "1003",
        "Chidi Nwosu",
        "G3",
    )
