"""A real Airflow 3 deployment on loopback, as operators run one: ``airflow db
migrate``, then ``api-server``, ``scheduler`` and ``dag-processor`` as separate
processes (LocalExecutor, SQLite), DAG files in a DAGs folder, runs triggered
from the CLI and the REST API."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from influx_server import free_port

#: Run states that end a run.
FINISHED = ("success", "failed")


class AirflowDeployment:
    """The three processes of a deployment rooted at ``root``: ``dags`` (the
    DAGs folder), ``out`` (the variable ``dwcp_data_output_dir``), ``home``
    (``AIRFLOW_HOME``, logs included). ``env`` adds to their environment
    (connections as ``AIRFLOW_CONN_*``)."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root, self.port = root, free_port()
        self.home, self.dags, self.out = root / "airflow", root / "dags", root / "out"
        for folder in (self.home, self.dags, self.out):
            folder.mkdir(parents=True, exist_ok=True)
        self.api = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__API__BASE_URL": self.api,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "3",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW_VAR_DWCP_DATA_OUTPUT_DIR": str(self.out),
            **(env or {}),
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> AirflowDeployment:
        """Migrates the database, starts the three processes and waits until all report healthy."""
        self.cli("db", "migrate")
        commands = {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
        }
        # this interpreter's Airflow, so that its tasks import the dwcp_data under test, whatever PATH holds
        for name, args in commands.items():
            with open(self.root / f"{name}.log", "wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "airflow", *args],
                        env=self.env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # its workers and tasks in its process group
                    )
                )
        deadline = time.monotonic() + 120
        while True:
            try:
                health = self.get("/api/v2/monitor/health")
                if all(health[k]["status"] == "healthy" for k in ("scheduler", "dag_processor")):
                    return self
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"Airflow did not start: {self.logs()}")
            time.sleep(1)

    def stop(self) -> None:
        """Stops each process with its workers and tasks (its process group)."""
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def logs(self) -> str:
        """The last lines each process logged."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.root.glob("*.log"))
        )

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``airflow ARGS`` in the deployment's environment (tried again while
        SQLite says another process holds the database)."""
        for _ in range(5):
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", *args],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if "database is locked" not in proc.stderr:
                break
            time.sleep(1)
        if check:
            assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    def request(self, method: str, path: str, body: object = None) -> Any:
        """The JSON answer of the REST API (tried again while it answers 503:
        SQLite busy with another process)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        for attempt in itertools.count():
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return json.loads(answer.read())
            except urllib.error.HTTPError as exc:
                if exc.code != 503 or attempt >= 9:
                    raise
            time.sleep(1)

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def deploy(self, name: str, code: str) -> str:
        """Writes the DAG file ``name.py`` and waits until its DAG ``name`` is parsed."""
        (self.dags / f"{name}.py").write_text(code)
        deadline = time.monotonic() + 90
        while True:
            try:
                self.get(f"/api/v2/dags/{name}")
                return name
            except urllib.error.HTTPError as exc:
                if exc.code != 404 or time.monotonic() > deadline:
                    raise AssertionError(f"DAG {name} not parsed: {self.logs()}") from exc
            time.sleep(1)

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after")["dag_runs"])

    def trigger_cli(self, dag_id: str, *args: str) -> str:
        """``airflow dags trigger DAG [ARGS]``; the new run's id."""
        before = {r["dag_run_id"] for r in self.runs(dag_id)}
        self.cli("dags", "trigger", dag_id, *args)
        (new,) = [r["dag_run_id"] for r in self.runs(dag_id) if r["dag_run_id"] not in before]
        return str(new)

    def trigger_rest(self, dag_id: str, **body: object) -> str:
        """``POST /api/v2/dags/DAG/dagRuns``; the new run's id."""
        body = {"logical_date": None, **body}  # the API asks for it, null or a date
        return str(self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"))

    def wait(self, dag_id: str, run_id: str, timeout: float = 240) -> dict[str, Any]:
        """The run once it has finished (fails the test past ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while (run := self.run(dag_id, run_id))["state"] not in FINISHED:
            if time.monotonic() > deadline:
                raise AssertionError(f"{dag_id} {run_id} still {run['state']}: {self.tasks(dag_id, run_id)}")
            time.sleep(1)
        return run

    def tasks(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        """Each task instance of the run, by task id (``state``, ``try_number``, ...)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return {t["task_id"]: t for t in self.get(path)["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, attempt: int = 1) -> str:
        """What the task's attempt logged (the log file the task process wrote)."""
        path = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return (path / f"attempt={attempt}.log").read_text(errors="replace")
