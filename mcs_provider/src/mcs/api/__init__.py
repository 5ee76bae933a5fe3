"""The MCS REST API (FastAPI), mounted by the Airflow plugin at ``/mcs``.

``routes/`` hold thin handlers, ``datamodels/`` the request and response shapes, ``services/``
the work against the ``mcs`` database and Airflow. Every route needs an Airflow login, except
``POST /hooks/{id}`` (``routes/hooks.py``), which needs the hook's own token instead.
"""
