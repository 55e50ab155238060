"""Exchange tables."""
