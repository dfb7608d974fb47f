"""Customer accounts: registration, customer numbers, sign-in tokens, addresses, preferences."""
