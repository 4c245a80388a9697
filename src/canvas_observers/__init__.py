"""canvas-observers: create Canvas observer accounts from an SIS roster and pair them."""

from __future__ import annotations


def _version() -> str:
    # The one version number lives in pyproject.toml; an install (editable or not) records it
    # in the package metadata, which is what `--version` reports. Read only when asked for:
    # importlib.metadata costs every run (cron's included) about 2 MB and a scan of
    # site-packages otherwise.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("canvas-observers")
    except PackageNotFoundError:
        # Imported from a source tree that was never installed (PYTHONPATH=src): there is no
        # metadata to read, and guessing a number would lie, so say so instead (still a valid
        # PEP 440 version, below every release).
        return "0+unknown"


def __getattr__(name: str) -> str:
    """``canvas_observers.__version__``, looked up on first use."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
