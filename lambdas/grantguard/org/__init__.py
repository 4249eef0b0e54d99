"""Organization mode: which account an event is from, where it sits, which settings it gets."""
