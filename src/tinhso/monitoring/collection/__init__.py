"""Automatic collection: data elements filled from exchange services by `tinhso worker`."""
