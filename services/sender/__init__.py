"""Sends through the LINE Messaging API, exactly once per recipient."""
