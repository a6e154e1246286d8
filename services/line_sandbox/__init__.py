"""A local stand-in for the LINE platform: Messaging API, inboxes, signed webhooks."""
