"""Monitoring tables."""
