"""Services the shells and plugins share: privacy, backup, demo data, export."""
