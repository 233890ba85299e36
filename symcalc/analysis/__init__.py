"""Reading results: the loss landscape (critical points, classification, the descent identity)."""
