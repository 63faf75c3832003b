"""Webhooks out and workflow rules a team edits without code."""
