"""api/datamodels."""
