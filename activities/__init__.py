"""Side effects: the case file, letters and notifications. Every one idempotent by its key."""
