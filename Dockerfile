# syntax=docker/dockerfile:1
# The MCS image: Apache Airflow with MCS's pinned requirements, the mcs-provider distribution, dags/,
# plugins/ and the built browser app. Every Airflow process and the gateway of docker-compose.yaml run
# from it, and so do the pods of deploy/helm/values.yaml. Build it from the repository root:
#
#   docker compose build            # tags it ${MCS_IMAGE}, see .env.example
#   docker build -t mcs-airflow .   # the same without compose

ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
ARG NODE_IMAGE=node:20

# ---- the browser app: type-checked and built by Vite into frontend/dist
FROM ${NODE_IMAGE} AS frontend
WORKDIR /build/frontend
COPY frontend/ ./
RUN npm ci && npm run build

# ---- Airflow with MCS
FROM ${AIRFLOW_IMAGE}

# The image's AIRFLOW_HOME, laid out like the repository so that relative paths (dags/, plugins/,
# frontend/dist) mean the same here as on a developer's machine.
WORKDIR /opt/airflow

# The install is scripts/install.sh, the very script `make install` runs: change it there, not here.
# requirements.txt pins apache-airflow to the image's own version, so nothing of Airflow is replaced.
COPY --chown=airflow:0 requirements.txt ./
COPY --chown=airflow:0 scripts/install.sh scripts/install.sh
COPY --chown=airflow:0 mcs_provider/ mcs_provider/
RUN PIP_NO_CACHE_DIR=1 sh scripts/install.sh python

COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 plugins/ plugins/
# Where mcs.api.ui looks for the app: frontend/dist beside the editable install of mcs_provider/.
COPY --chown=airflow:0 --from=frontend /build/frontend/dist/ frontend/dist/

# A named volume mounted here starts with this owner: airflow-init writes the login file into it.
RUN mkdir -p /opt/airflow/auth
