"""The simulated managers: each lists the tasks available to them, claims one, completes it.

One thread per simulated worker, each with its own keep-alive HTTP connection (plain
``http.client``: the client must cost little CPU, since it shares the machine with the server).
Workers pick at random among the tasks listed, so several race for the same task now and then;
the loser's 409 is expected and not an error. Everything else that is not a 2xx is.

With ``claim="next"`` a worker instead asks ``POST /api/v1/tasks/next/claim`` for its next task
(no list, no race) and completes what it is given; a 204 (nothing waiting) counts as an idle
list. A claim the server died during is not retried in that mode: the worker cannot know which
task, if any, it was given.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.load_data import ANSWERS
from benchmarks.timing import median_ms, percentile_ms

KINDS = ("list", "claim", "complete")
CLAIMS = ("list", "next")  # list then claim one by id; or claim the next task in one request
PAGE = 50  # the API default page, as a client that sets none gets


@dataclass
class Tally:
    """What the client saw; shared by the workers under one lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    acknowledged: list[int] = field(default_factory=list)
    idle_lists: int = 0
    # (moment answered, status) of every request: the fault runs read when errors stopped.
    timeline: list[tuple[float, str]] = field(default_factory=list)
    first_503: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, status: str, seconds: float | None) -> None:
        """One answer; ``seconds`` is None when there was no answer (no latency to count)."""
        with self.lock:
            self.statuses[kind][status] += 1
            if seconds is not None:
                self.latencies[kind].append(seconds)
            self.timeline.append((time.monotonic(), status))

    def errors(self) -> dict[str, int]:
        """Every answer that was neither a 2xx nor an expected 409, by kind and status."""
        found: Counter[str] = Counter()
        for kind, counts in self.statuses.items():
            for status, count in counts.items():
                if not (status.startswith("2") or status == "409"):
                    found[f"{kind} {status}"] += count
        return dict(sorted(found.items()))

    def summary(self, seconds: float) -> dict[str, Any]:
        latency = {
            kind: {
                "requests": len(samples),
                "median_ms": median_ms(samples),
                "p95_ms": percentile_ms(samples, 95),
                "p99_ms": percentile_ms(samples, 99),
            }
            for kind, samples in self.latencies.items()
            if samples
        }
        every = [s for samples in self.latencies.values() for s in samples]
        return {
            "seconds": round(seconds, 1),
            "completions": len(self.acknowledged),
            "completions_per_second": round(len(self.acknowledged) / seconds, 1),
            "requests_per_second": round(len(every) / seconds, 1),
            "p95_ms_all_requests": percentile_ms(every, 95) if every else None,
            "latency": latency,
            "statuses": {k: dict(sorted(v.items())) for k, v in self.statuses.items()},
            "conflicts_409": sum(v["409"] for v in self.statuses.values()),
            "errors": self.errors(),
            "lists_with_nothing_to_do": self.idle_lists,
            "slowest_ms": round(max(every) * 1000, 1) if every else None,
        }


class Worker:
    """One simulated manager with a token and a connection of their own."""

    def __init__(self, port: int, token: str, tally: Tally, seed: int, claim: str = "list") -> None:
        self.port = port
        self.claim = claim
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.tally = tally
        self.random = random.Random(seed)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.unanswered: list[dict[str, Any]] = []

    def request(self, kind: str, method: str, path: str, body: Any = None) -> tuple[str, Any]:
        payload = None if body is None else json.dumps(body)
        start = time.perf_counter()
        try:
            self.conn.request(method, path, payload, self.headers)
            response = self.conn.getresponse()
            raw = response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            time.sleep(0.05)  # a server that is down is not hammered in a tight loop
            self.tally.note(kind, f"connection error ({type(exc).__name__})", None)
            return "connection", None
        self.tally.note(kind, status, time.perf_counter() - start)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw[:500].decode(errors="replace")
        if status == "503" and self.tally.first_503 is None:
            self.tally.first_503 = body
        return status, body

    def step(self) -> None:
        if self.unanswered:
            # A claim or completion the server died during may have committed: a worker who
            # claimed a task goes back to it (a claimed task is in no one else's list).
            self.finish(self.unanswered.pop())
            return
        if self.claim == "next":
            self.claim_next()
            return
        status, body = self.request("list", "GET", f"/api/v1/tasks?scope=available&limit={PAGE}")
        if status != "200":
            time.sleep(0.05)  # a server that is down is not hammered in a tight loop
            return
        open_ = [t for t in body["tasks"] if t["element_id"] in ANSWERS and t["assignee"] is None]
        if not open_:
            with self.tally.lock:
                self.tally.idle_lists += 1
            time.sleep(0.05)
            return
        task = self.random.choice(open_)
        status, _ = self.request("claim", "POST", f"/api/v1/tasks/{task['id']}/claim")
        if status == "connection":
            self.unanswered.append(task)
        if status == "200":
            self.finish(task)

    def claim_next(self) -> None:
        status, body = self.request("claim", "POST", "/api/v1/tasks/next/claim")
        task = body["task"] if status == "200" else None
        if task is None or task["element_id"] not in ANSWERS:
            # 204: nothing waiting; a task the load has no answer for is left with its holder.
            if status in ("200", "204"):
                with self.tally.lock:
                    self.tally.idle_lists += 1
            time.sleep(0.05)
            return
        self.finish(task)

    def finish(self, task: dict[str, Any]) -> None:
        answer = ANSWERS[task["element_id"]]
        status, _ = self.request("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", answer)
        if status == "connection":
            self.unanswered.append(task)
        if status == "200":
            with self.tally.lock:
                self.tally.acknowledged.append(task["id"])

    def run_until(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self.step()
        self.conn.close()


def run(
    port: int,
    tokens: list[str],
    seconds: float,
    tally: Tally | None = None,
    claim: str = "list",
) -> Tally:
    """Every worker at once for ``seconds``, claiming the ``claim`` way; returns what they saw."""
    tally = tally or Tally()
    deadline = time.monotonic() + seconds
    workers = [Worker(port, token, tally, n, claim) for n, token in enumerate(tokens)]
    threads = [threading.Thread(target=w.run_until, args=(deadline,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally
