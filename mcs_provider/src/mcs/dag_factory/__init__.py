"""dag_factory."""
