"""The weekly training-data DAG of dwcp-data (Airflow 3): copy or link this file into the DAGs folder."""

from dwcp_data.airflow import make_dag

dag = make_dag()
