"""Allow ``python -m canvas_observers``."""

from canvas_observers.cli import main

main()
