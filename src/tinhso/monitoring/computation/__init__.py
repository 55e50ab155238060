"""Computation in SQL: effective values, aggregation, indicators, rankings and the composite index."""
