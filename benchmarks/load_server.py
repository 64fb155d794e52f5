"""The processes a production install runs: gunicorn serving the app and ``kinflow scheduler``.

Started here as they are in production (README "Running in production"), against one
database, so the load and fault runs exercise exactly what a council would deploy.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(database_url: str) -> dict[str, str]:
    return os.environ | {
        "KINFLOW_DATABASE_URL": database_url,
        "KINFLOW_ENV": "production",
        "KINFLOW_SECRET_KEY": "load-benchmark-only",
        "KINFLOW_SCHEDULER_IN_APP": "0",
    }


def start_gunicorn(
    database_url: str,
    port: int,
    workers: int,
    log: Path,
    threads: int = 1,
    preload: bool = False,
) -> subprocess.Popen:
    """gunicorn in its own process group, so a SIGKILL can take the master and workers at once.

    ``threads`` above 1 selects gunicorn's ``gthread`` worker; ``preload`` imports the app
    once in the master before forking.
    """
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        *(["--preload"] if preload else []),
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "256",
        "--no-control-socket",  # its default path is shared by every gunicorn of this user
        "--access-logfile",
        "-" if os.environ.get("LOAD_ACCESS_LOG") else "/dev/null",
        "webapp:create_app()",
    ]
    process = subprocess.Popen(
        command,
        env=environment(database_url),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until_up(port, process)
    return process


def group_cpu_seconds(group: int) -> float:
    """User and system CPU seconds used so far by the live processes of a process group
    (gunicorn's master and workers), read from ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name is in parentheses and may hold spaces: split after it.
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[2]) == group:  # field 5 of stat, the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def pid_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds used so far by one process (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_scheduler(database_url: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "kinflow"), "scheduler"],
        env=environment(database_url),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see its log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/tasks", timeout=2)
        except urllib.error.HTTPError:
            return  # 401 without a token: the app answers
        except OSError:
            time.sleep(0.1)
            continue
        return
    raise RuntimeError("gunicorn did not answer within a minute")


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the whole process group: no graceful shutdown, as in a power cut."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        kill_group(process)
