"""Prometheus metrics of transaction runs (extra ``metrics``: ``pip install fireflytx[metrics]``).

``MetricsObserver`` is a run observer: it counts what runs did from the events every engine
already emits, on the engine's observer thread, so measuring costs a run nothing. Nothing is
served unless asked: read the metrics from your own ``CollectorRegistry`` (give it to the
observer) or call ``start_http_server(port)``.

What it exports (prefix ``fireflytx_``):

- ``transactions_total{kind,name,status}``: runs ended, by final status.
- ``transactions_in_flight{kind,name}``: runs started and not yet ended.
- ``transaction_duration_seconds{kind,name}``: histogram of whole runs.
- ``attempt_duration_seconds{kind,name,phase,unit,outcome}``: histogram of every attempt of a
  saga step or compensation and of every TCC phase (``phase`` is ``step``, ``compensation``,
  ``try``, ``confirm`` or ``cancel``; ``outcome`` is ``success`` or ``failure``).
  The clones of a fan-out step share one ``unit``, ``<step id>#*``, however many items it has.
- ``retries_total{kind,name,phase,unit}``: failed attempts that another attempt follows.
- ``timeouts_total{kind,name,phase,unit}``: attempts ended by their own ``timeout_ms``.
- ``observer_errors_total{engine}`` and ``observer_events_dropped_total{engine}``: an engine's own
  listener counters, for every engine passed to ``watch``.
- ``runs_waiting{engine}``: callers waiting for a slot of an engine's ``max_in_flight`` now, and
  ``runs_rejected_total{engine}``: runs it refused (``when_full="fail"``), for every watched engine.

Anything else that counts (an event publisher's published and dropped messages, for instance)
joins the same registry with ``add_counter(name, documentation, read)``: ``read`` is called at
each scrape and returns the current total; ``add_gauge`` does the same for a level read now.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from ._saga._fan_out import split_clone_id
from .errors import StepTimeoutError
from .listeners import AttemptFinished, RunEvent, TransactionFinished, TransactionStarted

try:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client import start_http_server as _serve
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "fireflytx.metrics needs prometheus-client: install the extra with `pip install fireflytx[metrics]`"
    ) from exc

__all__ = ["MetricsObserver", "start_http_server"]

_Read = Callable[[], float]


class _Readings(Collector):
    """Counters (or gauges) whose values live elsewhere (engines, publishers), read at scrape time."""

    def __init__(
        self, family: type[CounterMetricFamily] | type[GaugeMetricFamily] = CounterMetricFamily
    ) -> None:
        self._family = family
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[str, tuple[str, ...], dict[tuple[str, ...], _Read]]] = {}

    def add(self, name: str, documentation: str, labels: dict[str, str], read: _Read) -> None:
        keys = tuple(sorted(labels))
        values = tuple(labels[k] for k in keys)
        with self._lock:
            known = self._counters.setdefault(name, (documentation, keys, {}))
            if known[1] != keys:
                raise ValueError(
                    f"counter {name!r} was added with labels {list(known[1])}, now with {list(keys)}; "
                    "give every source of one counter the same label names"
                )
            known[2][values] = read

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        with self._lock:
            counters = [(n, d, k, dict(s)) for n, (d, k, s) in self._counters.items()]
        for name, documentation, keys, sources in counters:
            family = self._family(name, documentation, labels=list(keys))
            for values, read in sources.items():
                family.add_metric(list(values), float(read()))
            yield family


class MetricsObserver:
    """Records runs into Prometheus metrics; add it to engines as a listener.

    One observer may serve several engines. Its metrics live in ``registry`` (by default a
    registry of its own, so two observers never clash over metric names; pass
    ``prometheus_client.REGISTRY`` to join the process-wide one).
    """

    def __init__(self, registry: CollectorRegistry | None = None, namespace: str = "fireflytx") -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self._namespace = namespace
        run = ["kind", "name"]
        unit = [*run, "phase", "unit"]
        self.transactions = Counter(
            "transactions", "Transaction runs ended, by final status.", [*run, "status"],
            namespace=namespace, registry=self.registry,
        )
        self.in_flight = Gauge(
            "transactions_in_flight", "Transaction runs started and not yet ended.", run,
            namespace=namespace, registry=self.registry,
        )
        self.transaction_duration = Histogram(
            "transaction_duration_seconds", "Duration of whole transaction runs.", run,
            namespace=namespace, registry=self.registry,
        )
        self.attempt_duration = Histogram(
            "attempt_duration_seconds",
            "Duration of each attempt of a saga step or compensation, or of a TCC phase.",
            [*unit, "outcome"], namespace=namespace, registry=self.registry,
        )
        self.retries = Counter(
            "retries", "Failed attempts that another attempt follows.", unit,
            namespace=namespace, registry=self.registry,
        )
        self.timeouts = Counter(
            "timeouts", "Attempts ended by their own timeout_ms.", unit,
            namespace=namespace, registry=self.registry,
        )
        self._readings = _Readings()
        self.registry.register(self._readings)
        self._levels = _Readings(GaugeMetricFamily)
        self.registry.register(self._levels)
        # Labelled children, looked up once per label set: ``labels()`` validates and locks each call.
        self._units: dict[tuple[str, str, str, str], _Unit] = {}
        self._runs: dict[tuple[str, str], tuple[Gauge, Histogram]] = {}
        self._fan_outs: dict[str, frozenset[str]] = {}
        """Fan-out step ids by saga name: their clones are counted under one label, not one each."""

    def on_event(self, event: RunEvent) -> None:
        """Count one run event (called by the engine on its observer thread)."""
        if isinstance(event, AttemptFinished):
            key = (event.kind.value, event.name, event.phase.value, self._unit_label(event))
            unit = self._units.get(key)
            if unit is None:
                unit = self._units[key] = _Unit(self, key)
            if event.error is None:
                unit.succeeded.observe(event.duration_ms / 1000)
                return
            unit.failed.observe(event.duration_ms / 1000)
            if not event.final:
                unit.retries.inc()
            if isinstance(event.error, StepTimeoutError):
                unit.timeouts.inc()
        elif isinstance(event, TransactionStarted):
            steps = getattr(event.definition, "steps", ())
            fan_outs = frozenset(s.step_id for s in steps if getattr(s, "fan_out", None) is not None)
            if fan_outs or event.name in self._fan_outs:
                self._fan_outs[event.name] = fan_outs
            self._run(event)[0].inc()
        elif isinstance(event, TransactionFinished):
            in_flight, duration = self._run(event)
            in_flight.dec()
            duration.observe(event.duration_ms / 1000)
            self.transactions.labels(event.kind.value, event.name, event.status).inc()

    def _unit_label(self, event: AttemptFinished) -> str:
        fan_outs = self._fan_outs.get(event.name)
        if fan_outs:
            split = split_clone_id(event.unit_id)
            if split is not None and split[0] in fan_outs:
                return f"{split[0]}#*"
        return event.unit_id

    def _run(self, event: RunEvent) -> tuple[Gauge, Histogram]:
        key = (event.kind.value, event.name)
        children = self._runs.get(key)
        if children is None:
            children = self._runs[key] = (self.in_flight.labels(*key), self.transaction_duration.labels(*key))
        return children

    def add_counter(
        self, name: str, documentation: str, read: _Read, labels: dict[str, str] | None = None
    ) -> None:
        """Export a counter kept elsewhere: ``read()`` returns its current total at each scrape.

        ``name`` gets the observer's namespace prefix and the ``_total`` suffix. Several sources
        may share a name with different label values (one per engine, say); their label names
        must match.

        Raises:
            ValueError: ``name`` was added before with other label names.
        """
        self._readings.add(f"{self._namespace}_{name}", documentation, dict(labels or {}), read)

    def add_gauge(
        self, name: str, documentation: str, read: _Read, labels: dict[str, str] | None = None
    ) -> None:
        """Export a level kept elsewhere: ``read()`` returns its current value at each scrape.

        ``name`` gets the observer's namespace prefix. Like ``add_counter``, several sources may
        share a name with different label values; their label names must match.

        Raises:
            ValueError: ``name`` was added before with other label names.
        """
        self._levels.add(f"{self._namespace}_{name}", documentation, dict(labels or {}), read)

    def watch(self, engine: Any, label: str | None = None) -> None:
        """Add this observer to ``engine`` and export the engine's own listener and admission counters.

        ``label`` names the engine in the ``engine`` label (default: its class name). The engine is
        held weakly: a collected engine reads as zero.
        """
        engine.add_listener(self)
        ref = weakref.ref(engine)
        labels = {"engine": label or type(engine).__name__}

        def errors() -> float:
            watched = ref()
            return 0.0 if watched is None else float(watched.listener_errors)

        def dropped() -> float:
            watched = ref()
            return 0.0 if watched is None else float(watched.listener_dropped)

        def waiting() -> float:
            watched = ref()
            return 0.0 if watched is None else float(watched.waiting)

        def rejected() -> float:
            watched = ref()
            return 0.0 if watched is None else float(watched.rejected)

        self.add_counter(
            "observer_errors", "Times an engine's observer raised (the run was unaffected).", errors, labels
        )
        self.add_counter(
            "observer_events_dropped",
            "Run events an engine dropped because its observers fell too far behind.", dropped, labels,
        )
        self.add_gauge(
            "runs_waiting", "Callers waiting for a slot of an engine's max_in_flight.", waiting, labels
        )
        self.add_counter(
            "runs_rejected", "Runs an engine refused because max_in_flight runs were in flight.", rejected,
            labels,
        )


class _Unit:
    """The labelled metrics of one step, compensation or TCC phase."""

    __slots__ = ("failed", "retries", "succeeded", "timeouts")

    def __init__(self, metrics: MetricsObserver, key: tuple[str, str, str, str]) -> None:
        self.succeeded = metrics.attempt_duration.labels(*key, "success")
        self.failed = metrics.attempt_duration.labels(*key, "failure")
        self.retries = metrics.retries.labels(*key)
        self.timeouts = metrics.timeouts.labels(*key)


def start_http_server(
    port: int, addr: str = "127.0.0.1", registry: CollectorRegistry | MetricsObserver | None = None
) -> Any:
    """Serve the metrics over HTTP on ``addr:port`` (``/metrics``), on a daemon thread.

    ``registry`` is a ``CollectorRegistry`` or a ``MetricsObserver`` (its registry); default:
    ``prometheus_client``'s process-wide registry. Binds to 127.0.0.1 unless told otherwise.
    Returns what ``prometheus_client.start_http_server`` returns (server and thread; call
    ``server.shutdown()`` to stop).
    """
    if isinstance(registry, MetricsObserver):
        registry = registry.registry
    if registry is None:
        return _serve(port, addr=addr)
    return _serve(port, addr=addr, registry=registry)
