"""Reminders, in-app notifications and outgoing email (issue 5).

``planning`` decides which reminders a case needs after every change; ``delivery`` fires them
(once, by a conditional update) into notifications and the email outbox; ``outbox`` sends
email with retries; ``digest`` gathers the daily digests; ``reading`` serves the app's list.
"""
