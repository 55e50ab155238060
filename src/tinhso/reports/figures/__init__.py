"""What the reports add up to: the published statistics per organisation and commune, and
the monthly figures written as monitoring values."""
