"""The SQLite journal: migrations, file safety, runs, rows, actions, remembered ids."""

from __future__ import annotations

import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

import canvas_observers
from canvas_observers.core.outcomes import DEFAULT_FAIL_ON, ActionRecord, Outcome, RowResult
from canvas_observers.core.recorder import UserKind
from canvas_observers.store import Journal, JournalError, NotAJournal, default_state_path
from canvas_observers.store.journal import effective_state
from canvas_observers.store.migrations import MIGRATIONS, Migration, apply_migrations

URL = "https://school.instructure.com"
T0 = "2024-09-01T02:00:00+00:00"
T1 = "2024-09-01T02:03:05+00:00"


def _start(journal: Journal, **overrides: object) -> int:
    args: dict[str, object] = {
        "canvas_url": URL,
        "settings": {"pairing": "code", "concurrency": 8},
        "roster": "roster.csv",
        "dry_run": False,
        "started_at": T0,
    }
    args.update(overrides)
    return journal.start_run(**args)  # type: ignore[arg-type]


@pytest.fixture(params=["memory", "file"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Journal:
    """A fresh journal, on ":memory:" and on a file."""
    where = ":memory:" if request.param == "memory" else tmp_path / "j.sqlite3"
    j = Journal.open(where)
    request.addfinalizer(j.close)
    return j


def _migration_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT name, applied_at FROM migrations ORDER BY name"))


def test_migrations_applied_once_and_idempotent_on_reopen(tmp_path: Path) -> None:
    """Every migration is recorded once; reopening applies nothing and keeps applied_at."""
    path = tmp_path / "j.sqlite3"
    Journal.open(path).close()
    first = _migration_rows(path)
    assert [name for name, _ in first] == [m.name for m in MIGRATIONS]
    with Journal.open(path) as j:
        _start(j)
    assert _migration_rows(path) == first
    with sqlite3.connect(path) as conn:
        conn.isolation_level = None
        assert apply_migrations(conn, now=T1) == []


def test_failed_migration_rolls_back_whole_migration() -> None:
    """A migration that fails midway leaves no partial table and is not recorded."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    good = Migration("0001_good", ("CREATE TABLE a (x)",))
    bad = Migration("0002_bad", ("CREATE TABLE b (x)", "CREATE TABLE a (x)"))
    with pytest.raises(sqlite3.OperationalError):
        apply_migrations(conn, now=T0, migrations=(good, bad))
    tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"migrations", "a"}
    assert [n for (n,) in conn.execute("SELECT name FROM migrations")] == ["0001_good"]


def test_file_created_owner_only_with_parent_dir(tmp_path: Path) -> None:
    """The parent dir is created 0700 and the journal and its WAL files are 0600."""
    path = tmp_path / "state" / "canvas-observers" / "j.sqlite3"
    with Journal.open(path) as j:
        _start(j)
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        for f in path.parent.iterdir():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f.name
        assert (path.parent / "j.sqlite3-wal").exists()


def test_wal_mode_on_file(tmp_path: Path) -> None:
    """A file journal is in WAL mode, which persists in the file."""
    path = tmp_path / "j.sqlite3"
    Journal.open(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize(
    "settings",
    [{"token": "x"}, {"CANVAS_TOKEN": "x"}, {"token_file": "/t"}, {"auth": {"Token": "x"}}],
)
def test_settings_with_a_token_key_are_refused(
    journal: Journal, settings: dict[str, object]
) -> None:
    """Any settings key containing "token", at any depth, is refused and nothing is stored."""
    with pytest.raises(ValueError, match="token"):
        _start(journal, settings=settings)
    assert journal.list_runs() == []


def test_run_round_trip(journal: Journal) -> None:
    """A started, recorded and finished run reads back exactly as written."""
    run_id = _start(journal, settings={"pairing": "direct", "report": Path("/r.json")})
    rows = [
        RowResult(3, "100", "a@x.org", Outcome.CREATED, "", 11, 21),
        RowResult(4, "s@x.org", "b@x.org", Outcome.NOT_ENROLLED, "no enrollment", 12, None),
        RowResult(5, "999", "c@x.org", Outcome.STUDENT_NOT_FOUND),
    ]
    actions = [
        ActionRecord("create_user", 3, T0, "ok", canvas_observer_id=21),
        ActionRecord("pair_code", 3, T1, "unknown", 21, 11, "502, listed observees"),
    ]
    for row in rows:
        journal.for_run(run_id, canvas_url=URL).record_row(row, at=T1)
    for action in actions:
        journal.for_run(run_id, canvas_url=URL).record_action(action)
    running = journal.get_run(run_id)
    assert running is not None and running.state == "running" and running.ended_at is None
    journal.finish_run(
        run_id,
        ended_at=T1,
        state="complete",
        totals={"created": 1, "not_enrolled": 1, "student_not_found": 1},
        api_calls={"GET": 9, "POST": 2},
    )
    run = journal.get_run(run_id)
    assert run is not None
    assert (run.id, run.canvas_url, run.roster, run.dry_run) == (run_id, URL, "roster.csv", False)
    assert (run.started_at, run.ended_at, run.state) == (T0, T1, "complete")
    assert run.settings == {"pairing": "direct", "report": "/r.json"}
    assert run.totals == {"created": 1, "not_enrolled": 1, "student_not_found": 1}
    assert run.api_calls == {"GET": 9, "POST": 2}
    assert (run.pid, run.host) == (os.getpid(), socket.gethostname())
    assert journal.run_rows(run_id) == rows
    assert journal.run_actions(run_id) == actions


def test_a_run_keeps_its_fail_on_set(journal: Journal) -> None:
    """The outcomes a run's --fail-on counted read back as written; a run recorded before the
    journal kept them (NULL) gets the default set; a name this version does not know (a newer
    version's outcome) is left out rather than failing the read."""
    chosen = _start(journal, fail_on={Outcome.FAILED, Outcome.NOT_ENROLLED})
    default = _start(journal)
    older = _start(journal)
    newer = _start(journal, fail_on={Outcome.FAILED})
    journal._conn.execute("UPDATE runs SET fail_on = NULL WHERE id = ?", (older,))
    journal._conn.execute(
        'UPDATE runs SET fail_on = \'["failed", "from_the_future"]\' WHERE id = ?', (newer,)
    )
    fail_on = {run.id: run.fail_on for run in journal.list_runs()}
    assert fail_on[chosen] == {Outcome.FAILED, Outcome.NOT_ENROLLED}
    assert fail_on[default] == fail_on[older] == DEFAULT_FAIL_ON
    assert fail_on[newer] == {Outcome.FAILED}
    run = journal.get_run(chosen)
    assert run is not None and run.needs_attention(Outcome.NOT_ENROLLED)
    assert not run.needs_attention(Outcome.STUDENT_NOT_FOUND)


def test_rows_keep_the_names_of_the_people(journal: Journal) -> None:
    """A row's student and guardian names read back as recorded, a name unknown stays ''."""
    run_id = _start(journal)
    rows = [
        RowResult(2, "S1", "pat@home.test", Outcome.PAIRED, "", 11, 21, "Sam Lee", "Pat Lee"),
        RowResult(3, "S2", "", Outcome.NO_EMAIL, "no email", guardian_name="Ana Ng"),
        RowResult(4, "S3", "bo@home.test", Outcome.STUDENT_NOT_FOUND, guardian_name="Bo Ng"),
    ]
    for row in rows:
        journal.for_run(run_id, canvas_url=URL).record_row(row, at=T1)
    assert journal.run_rows(run_id) == rows
    assert [(r.student_label, r.guardian_label) for r in journal.run_rows(run_id)] == [
        ("Sam Lee (S1)", "Pat Lee (pat@home.test)"),
        ("S2", "Ana Ng (no email)"),
        ("S3", "Bo Ng (bo@home.test)"),
    ]


def test_a_journal_from_before_names_still_reads(tmp_path: Path) -> None:
    """Rows recorded before the names were kept read back with empty names, and new rows of
    the migrated journal keep theirs."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    before = [m for m in MIGRATIONS if m.name < "0006"]
    apply_migrations(conn, now=T0, migrations=before)
    conn.execute(
        "INSERT INTO runs (id, canvas_url, roster, dry_run, started_at, ended_at, state,"
        " settings, pid, host) VALUES (1, ?, 'roster.csv', 0, ?, ?, 'complete', '{}', 1, 'h')",
        (URL, T0, T0),
    )
    conn.execute(
        "INSERT INTO rows (run_id, line, student_id, observer_email, outcome, detail, at,"
        " canvas_student_id, canvas_observer_id)"
        " VALUES (1, 2, 'S1', 'pat@home.test', 'paired', '', ?, 1, 11)",
        (T0,),
    )
    conn.close()
    with Journal.open(path) as journal:
        assert journal.run_rows(1) == [
            RowResult(2, "S1", "pat@home.test", Outcome.PAIRED, "", 1, 11)
        ]
        run_id = _start(journal)
        named = RowResult(2, "S1", "pat@home.test", Outcome.ALREADY_PAIRED, "", 1, 11, "Sam", "Pat")
        journal.for_run(run_id, canvas_url=URL).record_row(named, at=T1)
        assert journal.run_rows(run_id) == [named]


def test_rows_and_actions_belong_to_their_run(journal: Journal) -> None:
    """Rows and actions of one run do not leak into another; unknown runs are refused."""
    a, b = _start(journal), _start(journal, dry_run=True)
    journal.for_run(a, canvas_url=URL).record_row(
        RowResult(2, "1", "p@x.org", Outcome.PAIRED), at=T0
    )
    journal.for_run(b, canvas_url=URL).record_action(ActionRecord("pair_direct", 2, T0, "ok"))
    assert [r.line for r in journal.run_rows(a)] == [2] and journal.run_rows(b) == []
    assert journal.run_actions(a) == [] and len(journal.run_actions(b)) == 1
    with pytest.raises(ValueError, match="no run 99"):
        journal.for_run(99, canvas_url=URL).record_row(
            RowResult(2, "1", "p@x.org", Outcome.PAIRED), at=T0
        )


def test_created_accounts_are_real_runs_creates_of_this_canvas(journal: Journal) -> None:
    """created_accounts: creates answered or recovered, in real runs of this Canvas, each
    account once with its row's email; failed creates, dry runs and other Canvases are not."""
    real, dry = _start(journal), _start(journal, dry_run=True)
    journal.for_run(real, canvas_url=URL).record_row(
        RowResult(3, "100", "a@x.org", Outcome.CREATED, "", 11, 21), at=T0
    )
    journal.for_run(real, canvas_url=URL).record_action(
        ActionRecord("create_user", 3, T0, "ok", canvas_observer_id=21)
    )
    journal.for_run(real, canvas_url=URL).record_action(
        ActionRecord("create_user", 4, T0, "recovered", 22)
    )
    journal.for_run(real, canvas_url=URL).record_action(
        ActionRecord("create_user", 5, T0, "failed", 23)
    )
    journal.for_run(real, canvas_url=URL).record_action(
        ActionRecord("create_user", 3, T1, "ok", canvas_observer_id=21)
    )
    journal.for_run(dry, canvas_url=URL).record_action(
        ActionRecord("create_user", 3, T0, "ok", canvas_observer_id=24)
    )
    elsewhere = _start(journal, canvas_url="https://other.instructure.com")
    journal.for_run(elsewhere, canvas_url=URL).record_action(
        ActionRecord("create_user", 3, T0, "ok", 25)
    )
    made = journal.created_accounts(canvas_url=URL)
    assert [(a.observer_id, a.roster_email, a.run_id) for a in made] == [
        (21, "a@x.org", real),
        (22, "", real),
    ]


def test_finish_run_checks_state_and_only_once(journal: Journal) -> None:
    """finish_run refuses an unknown state, an unknown run and a second finish."""
    run_id = _start(journal)
    with pytest.raises(ValueError, match="state"):
        journal.finish_run(run_id, ended_at=T1, state="running", totals={}, api_calls={})
    with pytest.raises(ValueError, match="no run"):
        journal.finish_run(run_id + 1, ended_at=T1, state="failed", totals={}, api_calls={})
    journal.finish_run(run_id, ended_at=T1, state="stopped", totals={}, api_calls={})
    with pytest.raises(ValueError, match="already finished"):
        journal.finish_run(run_id, ended_at=T1, state="complete", totals={}, api_calls={})
    run = journal.get_run(run_id)
    assert run is not None and run.state == "stopped"


def test_list_runs_newest_first_with_limit(journal: Journal) -> None:
    """list_runs returns the newest runs first, at most limit of them."""
    ids = [_start(journal, roster=f"r{i}.csv") for i in range(5)]
    assert [r.id for r in journal.list_runs()] == ids[::-1]
    assert [r.roster for r in journal.list_runs(limit=2)] == ["r4.csv", "r3.csv"]
    assert journal.get_run(max(ids) + 1) is None


def _src_dir() -> str:
    return str(Path(canvas_observers.__file__).resolve().parent.parent)


def test_run_of_a_dead_process_is_interrupted(tmp_path: Path) -> None:
    """A run started by a process that died without finishing reads back as interrupted."""
    path = tmp_path / "j.sqlite3"
    script = (
        "import sys\n"
        "from canvas_observers.store import Journal\n"
        "from canvas_observers.core.outcomes import Outcome, RowResult\n"
        "j = Journal.open(sys.argv[1])\n"
        f"run = j.start_run(canvas_url={URL!r}, settings={{}}, roster='r.csv',"
        f" dry_run=False, started_at={T0!r})\n"
        f"j.for_run(run, canvas_url={URL!r}).record_row(\n"
        "    RowResult(2, '1', 'p@x.org', Outcome.PAIRED), at='t')\n"
        "print(run, flush=True)\n"
        "import os; os._exit(0)  # die without close() or finish_run(), like a kill\n"
    )
    env = {**os.environ, "PYTHONPATH": _src_dir()}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], env=env, capture_output=True, check=True
    )
    dead_run = int(done.stdout)
    with Journal.open(path) as j:
        live_run = _start(j)
        states = {r.id: r.state for r in j.list_runs()}
        assert states == {dead_run: "interrupted", live_run: "running"}
        assert len(j.run_rows(dead_run)) == 1  # committed before the process ended


@pytest.mark.parametrize(
    ("ended_at", "host", "alive", "expected"),
    [
        (None, "here", True, "running"),
        (None, "here", False, "interrupted"),
        (None, "elsewhere", True, "interrupted"),
        (T1, "here", False, "complete"),
        (T1, "elsewhere", False, "complete"),
    ],
)
def test_effective_state(ended_at: str | None, host: str, alive: bool, expected: str) -> None:
    """Only an unfinished run is re-judged: live process -> running, otherwise interrupted."""
    state = effective_state(
        stored="running" if ended_at is None else "complete",
        ended_at=ended_at,
        pid=4242,
        host=host,
        this_host="here",
        is_alive=lambda pid: alive,
    )
    assert state == expected


def test_remember_recall_forget(journal: Journal) -> None:
    """Remembered ids are per Canvas, kind and key; remembering again updates; forget drops."""
    journal.for_run(0, canvas_url=URL).remember_user(
        kind="observer", key="a@x.org", canvas_id=21, at=T0
    )
    journal.for_run(0, canvas_url=URL).remember_user(
        kind="student", key="a@x.org", canvas_id=11, at=T0
    )
    assert journal.for_run(0, canvas_url=URL).recall_user(kind="observer", key="a@x.org") == 21
    assert journal.for_run(0, canvas_url=f"{URL}/").recall_user(kind="student", key="a@x.org") == 11
    assert (
        journal.for_run(0, canvas_url="https://other.test").recall_user(
            kind="observer", key="a@x.org"
        )
        is None
    )
    journal.for_run(0, canvas_url=URL).remember_user(
        kind="observer", key="a@x.org", canvas_id=31, at=T1
    )
    assert journal.for_run(0, canvas_url=URL).recall_user(kind="observer", key="a@x.org") == 31
    journal.for_run(0, canvas_url=URL).forget_user(kind="observer", key="a@x.org")
    journal.for_run(0, canvas_url=URL).forget_user(kind="observer", key="never@x.org")
    assert journal.for_run(0, canvas_url=URL).recall_user(kind="observer", key="a@x.org") is None
    assert journal.for_run(0, canvas_url=URL).recall_user(kind="student", key="a@x.org") == 11
    with pytest.raises(ValueError, match="kind"):
        # a kind outside UserKind, as an untyped caller could pass: the journal refuses it
        journal.for_run(0, canvas_url=URL).recall_user(
            kind=cast("UserKind", "teacher"), key="a@x.org"
        )


def test_remembered_ids_survive_reopen(tmp_path: Path) -> None:
    """Remembered ids and runs are on disk after close and reopen."""
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as j:
        j.for_run(0, canvas_url=URL).remember_user(kind="student", key="100", canvas_id=7, at=T0)
        run_id = _start(j)
    with Journal.open(path) as j:
        assert j.for_run(0, canvas_url=URL).recall_user(kind="student", key="100") == 7
        assert j.get_run(run_id) is not None


def test_garbage_file_is_not_a_journal(tmp_path: Path) -> None:
    """A file that is not SQLite raises NotAJournal naming the file."""
    path = tmp_path / "notes.sqlite3"
    path.write_bytes(b"this is certainly not a database\n" * 200)
    with pytest.raises(NotAJournal, match="not a canvas-observers journal"):
        Journal.open(path)


def test_foreign_sqlite_database_is_not_touched(tmp_path: Path) -> None:
    """Another program's SQLite file is refused and left without our tables."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    conn.close()
    with pytest.raises(NotAJournal):
        Journal.open(path)
    with sqlite3.connect(path) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert names == {"photos"}


def test_journal_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """A journal with a migration this version does not know is refused, not misread."""
    path = tmp_path / "j.sqlite3"
    Journal.open(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO migrations VALUES ('9999_future', ?)", (T0,))
    conn.close()
    with pytest.raises(JournalError, match="newer"):
        Journal.open(path)


def test_unwritable_location_is_a_journal_error(tmp_path: Path) -> None:
    """A path whose parent is a file raises JournalError, not a bare OSError."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError):
        Journal.open(blocker / "j.sqlite3")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://school.instructure.com", "school.instructure.com.sqlite3"),
        ("https://School.Instructure.com/", "school.instructure.com.sqlite3"),
        ("https://school.instructure.com:443/courses/13", "school.instructure.com.sqlite3"),
        ("http://canvas.example.edu:80", "canvas.example.edu.sqlite3"),
        ("https://canvas.example.edu:8443", "canvas.example.edu_8443.sqlite3"),
        ("http://127.0.0.1:8080", "127.0.0.1_8080.sqlite3"),
        ("canvas.example.edu", "canvas.example.edu.sqlite3"),
    ],
)
def test_default_state_path_per_host(url: str, name: str) -> None:
    """The default journal is one file per Canvas host (and port) under the state dir."""
    path = default_state_path(url)
    assert path.name == name
    assert path.parent.name == "canvas-observers"


def test_default_state_path_needs_a_host() -> None:
    """A URL without a host is refused rather than mapped to an odd file name."""
    with pytest.raises(ValueError, match="no host"):
        default_state_path("https://")
