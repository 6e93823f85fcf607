"""bayeslens: prior-data fitted networks next to the exact posterior they approximate."""

__version__ = "0.1.0"
