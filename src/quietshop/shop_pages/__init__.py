"""The shop's own information pages (contact, shipping, returns), written by the owner."""
