"""Every way in: government employment feeds, LINE webhooks and staff notices."""
