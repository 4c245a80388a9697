"""canvas-observers: create Canvas observer accounts from an SIS roster and pair them."""

from importlib.metadata import PackageNotFoundError, version

try:
    # The one version number lives in pyproject.toml; an install (editable or not)
    # records it in the package metadata, which is what `--version` reports.
    __version__ = version("canvas-observers")
except PackageNotFoundError:
    # Imported from a source tree that was never installed (PYTHONPATH=src): there is
    # no metadata to read, and guessing a number would lie, so say so instead (still a
    # valid PEP 440 version, below every release).
    __version__ = "0+unknown"
