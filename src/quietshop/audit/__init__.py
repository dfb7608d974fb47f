"""The append-only, hash-chained audit log of staff access (P6, issue 9)."""
