"""The distribution's version, in one place (the client's User-Agent reads it)."""

__version__ = "0.1.0"
