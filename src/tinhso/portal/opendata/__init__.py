"""Portal pages of open data: the public catalogue and dataset pages."""
