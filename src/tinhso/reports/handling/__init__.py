"""How a report is handled: its states and transitions, its working-hour deadlines, and
the routing that names the organisation responsible for it."""
