"""Fixtures for the OneRoster API reader: sample bundles, a fake API on them, no retry sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina

from canvas_observers.fake_oneroster import write_sample

SECRET = "OR-s3cret-Zq7Wk2Pm9Xv4Ld8"  # distinctive: no substring of it appears by chance
CLIENT_ID = "district-client-7"


@pytest.fixture(autouse=True)
def no_retry_sleeps() -> Iterator[None]:
    """stamina's test mode: retry backoffs are zero, the policy's attempt limit is kept."""
    with stamina.set_testing(True, attempts=1000, cap=True):
        yield


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo district as a 1.1 and a 1.2 bundle folder."""
    root = tmp_path_factory.mktemp("samples")
    return {v: write_sample(root / f"v{v}", v) for v in ("1.1", "1.2")}
