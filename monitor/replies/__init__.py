"""Reply windows: the 24-hour rule from opening to closing, reminders, breaches, signed links."""
