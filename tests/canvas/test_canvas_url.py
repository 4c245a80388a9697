"""The Canvas URL a client is given: what is refused before any request."""

from __future__ import annotations

import pytest

from canvas_observers.canvas.errors import ConfigurationError
from canvas_observers.canvas.net import check_base_url


def test_credentials_in_the_canvas_url_are_refused() -> None:
    """user:password@ in the URL would go out as Basic auth and be printed: refused."""
    with pytest.raises(ConfigurationError, match="user name or password"):
        check_base_url("https://admin:secret@canvas.example.edu")
