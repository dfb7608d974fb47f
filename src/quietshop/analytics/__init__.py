"""Traffic analytics from the shop's own access log, linked to no one (P5, issue 10).

Today: the daily salts and the visitor hash that private-route log lines carry instead of
the client's address (``visitors.py``), and the job that destroys a salt once its day
has closed (``background.py``).
"""
