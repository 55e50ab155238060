"""What citizens attach to a report: photos and short videos, stored without metadata."""
