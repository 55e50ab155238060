"""The datastore: the rows of a tabular resource (CSV or XLSX) in a table of their own.

``reading`` turns an uploaded file into a header and rows (UTF-8 or UTF-16 CSV with ``,``
``;`` or tab; the first sheet of an XLSX without formulas), ``columns`` infers each column's
type (int, numeric, date, timestamp, text) and converts cells, ``tables`` creates and fills
one table per ingestion (``ds_<resource>_<generation>``: a new upload fills a new table and
the old one is dropped only in the same transaction, so nothing is half-loaded), ``search``
answers CKAN's ``datastore_search`` over it, and ``service`` ties them to resources.
"""
