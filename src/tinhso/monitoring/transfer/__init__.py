"""Import and export of values: CSV, XLSX and DHIS2 dataValueSets."""
