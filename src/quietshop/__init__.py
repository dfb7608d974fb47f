"""Quietshop: an online store that keeps quiet about its customers."""

__version__ = "0.1.0"
