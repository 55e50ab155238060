"""Open data catalogue: CKAN-compatible datasets, resources, tags, themes and licences."""
