"""Disaster HQ operations (災害対策本部): disasters, incidents, dispatch, citizen reports.

Domain functions take a connection and plain values; routes, the CLI and the ingest worker call them.
Nothing here imports the web framework."""
