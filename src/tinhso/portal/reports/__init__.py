"""Field report pages: the citizens' (public) and the officers' (signed in)."""
