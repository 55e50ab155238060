"""The service catalogue: services of information systems with their data standard."""
