"""The master side of the scale benchmark: the same class names as skein's built-in workload, so a
Locust master dispatches the users the same way skein's master does. The users never run here (the
workers are fake), so the tasks only need to be plausible."""
from locust import HttpUser, between, task


class ImageClassifierUser(HttpUser):
    wait_time = between(1, 3)

    @task
    def health(self):
        self.client.get("/api/v1/health")


class HighLoadUser(HttpUser):
    wait_time = between(0.1, 0.5)

    @task
    def health(self):
        self.client.get("/api/v1/health")


class ErrorTestingUser(HttpUser):
    wait_time = between(2, 5)

    @task
    def health(self):
        self.client.get("/api/v1/health")
