"""Locust 2.47's side of perf/bench.sh: the same three workloads as skein's bench classes.

FastGetUser is ThroughputUser (GET / with no wait), FastPostUser is ThroughputPostUser (the body
and content type skein sent, captured by bench.py, from BENCH_POST_BODY and BENCH_POST_TYPE) and
PacedUser is PacedUser (GET / with 1-3 s waits). All use FastHttpUser, Locust's fastest client.
"""
import os

from locust import FastHttpUser, between, constant, task


class FastGetUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def root(self):
        self.client.get("/")


class FastPostUser(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        path = os.environ.get("BENCH_POST_BODY")
        with open(path, "rb") as f:
            self.body = f.read()
        self.headers = {"Content-Type": os.environ.get("BENCH_POST_TYPE", "application/octet-stream")}

    @task
    def classify(self):
        self.client.post("/api/v1/classify", data=self.body, headers=self.headers)


class PacedUser(FastHttpUser):
    wait_time = between(1, 3)

    @task
    def root(self):
        self.client.get("/")
