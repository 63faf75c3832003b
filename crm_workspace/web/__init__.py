"""The served app: the template and navigation, login, the audit page."""
