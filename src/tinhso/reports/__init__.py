"""Citizen field reports (phản ánh hiện trường): Open311, routing, deadlines in working hours."""
