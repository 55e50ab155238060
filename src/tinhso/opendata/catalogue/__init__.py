"""The catalogue itself: datasets and resources (validation, writes, CKAN dictionaries), their
files, search with facets, the lists of publishers, themes, tags and licences, and the
folding of Vietnamese text into names and search words."""
