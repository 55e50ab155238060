"""Portal pages of data exchange (LGSP)."""
