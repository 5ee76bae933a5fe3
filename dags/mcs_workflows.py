"""Every published MCS workflow, as one Airflow DAG each (built by ``mcs.dag_factory``).

Airflow only looks into files that mention both words "airflow" and "dag"; this one does.
"""

from mcs.dag_factory import generate_dags

generate_dags(globals())
