"""The router's rules, free of I/O: event ordering, audiences, quiet hours, reminders."""
