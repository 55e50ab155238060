"""Open311 GeoReport v2: the public API, the applications' keys and the categories'
extra questions (service definitions)."""
