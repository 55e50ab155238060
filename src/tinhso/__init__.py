"""Tỉnh số: the digital-transformation backbone of a Vietnamese province."""

__version__ = "0.1.0"
