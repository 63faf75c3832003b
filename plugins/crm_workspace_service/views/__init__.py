"""The Service page: queue, board, ticket, metrics (Panel)."""
