"""Payments: the card vault (encrypted card numbers, purged after capture) and processors."""
