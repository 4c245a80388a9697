"""canvas-observers: create Canvas observer accounts from an SIS roster and pair them."""

__version__ = "0.1.0"
