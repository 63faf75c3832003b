"""Service: tickets with SLAs, e-mail in and out, queues."""
