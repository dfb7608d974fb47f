"""Privacy: policies, and later the keyring, audit chain, export and erasure."""
