"""JSON API for other systems: tokens, records, search and views over HTTP."""
