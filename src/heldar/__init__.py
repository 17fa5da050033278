"""Heldar: an open video kernel."""

__version__ = "0.1.0"
