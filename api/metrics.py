"""Prometheus metrics: requests, latency, Cypher round-trips and errors by code."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "threatgraph_http_requests", "HTTP requests", ["path", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "threatgraph_http_request_duration_seconds",
            "HTTP request latency",
            ["path"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.round_trips = Counter(
            "threatgraph_cypher_round_trips",
            "Cypher statements sent to Neo4j",
            registry=self.registry,
        )
        self.errors = Counter(
            "threatgraph_graphql_errors", "GraphQL errors by code", ["code"], registry=self.registry
        )
