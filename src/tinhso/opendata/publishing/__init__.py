"""What the catalogue publishes on its own: the DCAT-AP 3 export (datasets, and the data-
sharing services as DataService entries) and the monitoring indicators as datasets."""
