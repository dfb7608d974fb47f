"""Privacy: versioned policy texts, the leaving notice, and the personal-data declaration
with the export and erasure that walk it (personal_data.py). It imports no domain: each
domain hands in its share at assembly."""
