"""IOC maps (issue 15): administrative boundaries as data and synthetic demo polygons.

Pure logic, no database: ``boundary_upload`` validates an uploaded GeoJSON
FeatureCollection against the registry's unit codes; ``synthetic_boundaries``
tessellates commune centroids into labelled synthetic polygons for demo and tests.
"""
