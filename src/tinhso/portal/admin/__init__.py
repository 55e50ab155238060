"""Pages for the platform's operators (platform administrators only)."""
