"""Services: the work behind the routes, against the mcs database and Airflow."""
