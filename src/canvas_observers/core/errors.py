"""The one root of every exception the package raises on purpose.

Each package draws its own branch below it::

    CanvasObserversError
    ├── UnsafeFile             core/files.py: a path the tool will not write through (a link)
    ├── CanvasError            canvas/errors.py: everything Canvas answered, or did not
    ├── RosterError            roster/model.py: a roster that cannot be read at all
    ├── ExportError            sis_export/: a template or folder the export cannot use
    ├── JournalError           store/journal.py: the state file is unusable
    ├── SisApiError            sis_api/: the SIS's OneRoster API could not be read whole
    └── RunAborted             sync/: the run cannot go on

The CLI maps these to exit codes in one place (cli/exits.py), so a command never picks a
code of its own for a known failure.
"""

from __future__ import annotations


class CanvasObserversError(Exception):
    """Base of every error the package raises on purpose; its ``str`` is the message the
    user sees (never a token, a secret or a traceback)."""
