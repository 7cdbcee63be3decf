# The official Airflow 3.3 image plus this project's locked dependencies (dbt, cosmos, GX, ...).
# dags/, dbt/, expectations/ and plugins/ are mounted by docker-compose.yml, not baked in.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir -r /opt/airflow/requirements.lock

ENV DBT_PROFILES_DIR=/opt/airflow/dbt \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    GX_ANALYTICS_ENABLED=false
