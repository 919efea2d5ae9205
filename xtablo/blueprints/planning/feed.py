"""The private calendar feed (to be written)."""
