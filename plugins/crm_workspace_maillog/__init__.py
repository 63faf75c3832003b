"""E-mail logging: messages BCC'd to the logging mailbox filed on contacts."""
