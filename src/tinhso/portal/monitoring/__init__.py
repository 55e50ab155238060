"""Portal pages of digital-transformation monitoring (IOC)."""
