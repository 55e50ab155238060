"""Dashboards of the operations centre (issue 15): ordered panels (map, KPI tile, time series,
ranking, plan status counts, exchange traffic) kept in the database and edited in the portal,
shown on a desk or rotated on a wall screen."""
