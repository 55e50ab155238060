"""Decree 194 connection requests, their answers within working days, and grants."""
