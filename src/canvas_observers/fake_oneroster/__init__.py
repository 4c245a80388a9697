"""A fake OneRoster 1.1/1.2 REST API serving a OneRoster CSV bundle, with faults."""

from canvas_observers.fake_oneroster.app import FakeOneRoster, create_app
from canvas_observers.fake_oneroster.config import FakeOneRosterConfig
from canvas_observers.fake_oneroster.sample import write_sample

__all__ = ["FakeOneRoster", "FakeOneRosterConfig", "create_app", "write_sample"]
