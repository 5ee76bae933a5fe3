"""Route modules of the MCS API, one per domain."""
