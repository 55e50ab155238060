"""Stewardship of open data (Decree 47/2020): each agency's open-data list, its stale
datasets and its reviews, and the API its officials use."""
