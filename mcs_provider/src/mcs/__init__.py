"""MCS: workflows for devices and external services, run by Apache Airflow."""

from __future__ import annotations

__version__ = "0.1.0"
