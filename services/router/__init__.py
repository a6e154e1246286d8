"""Registry of employers, workers and LINE subscribers; audiences, schedules and reminders."""
