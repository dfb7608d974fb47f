"""Mail: the outbox, message templates, the SMTP sender, mailing subscriptions, unsubscribe.

Only the mail the policy allows (P4): order updates, account notices, policy changes, and
mailings to people who opted in. No tracking pixels, no tracked links.
"""
