"""Satisfaction: CSAT after a solved ticket, NPS surveys to customers."""
