"""Administrative units, organisations, information systems, users and roles."""
