"""Values: entry with validation, corrections with history, provenance, numbers as written."""
