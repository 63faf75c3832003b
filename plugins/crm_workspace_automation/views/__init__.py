"""The Automation page: workflow rules (list, form, run log) and webhooks (subscriptions, delivery log)."""
