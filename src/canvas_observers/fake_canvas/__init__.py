"""The fake Canvas: a Canvas-faithful Starlette app with real in-memory state.

See docs/fake-canvas.md. `create_app()` returns the ASGI app; `app.fake` holds the
FakeCanvas (config, state, stats) that tests and scenarios work on.
"""

from canvas_observers.fake_canvas.app import FakeCanvasApp, create_app
from canvas_observers.fake_canvas.config import FakeConfig, FakeStats
from canvas_observers.fake_canvas.state import FakeState
from canvas_observers.fake_canvas.web import FakeCanvas

__all__ = [
    "FakeCanvas",
    "FakeCanvasApp",
    "FakeConfig",
    "FakeState",
    "FakeStats",
    "create_app",
]
