"""Request and response models of the MCS API."""
