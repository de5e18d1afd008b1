"""Prometheus metrics: requests, latency, Cypher round-trips, errors by code, and the
admission gate's turns (graph/store/admission.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from graph.store.admission import TransactionGate


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
        self.transactions_running = Gauge(
            "threatgraph_neo4j_transactions_running",
            "Neo4j transactions this process is running (admitted by the gate)",
            registry=self.registry,
        )
        self.transactions_waiting = Gauge(
            "threatgraph_neo4j_transactions_waiting",
            "Transactions waiting for a turn at Neo4j (THREATGRAPH_MAX_TRANSACTIONS)",
            registry=self.registry,
        )
        self.transactions_limit = Gauge(
            "threatgraph_neo4j_transactions_limit",
            "Transactions admitted at once (0: no limit)",
            registry=self.registry,
        )

    def read_gate(self, gate: TransactionGate | None) -> None:
        """Copy the gate's counts into the gauges (at scrape time: they change per request)."""
        self.transactions_running.set(gate.running if gate else 0)
        self.transactions_waiting.set(gate.waiting if gate else 0)
        self.transactions_limit.set(gate.limit if gate else 0)
