"""Prometheus metrics of the router (served at /metrics with the process's default registry)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EMPLOYMENT_EVENTS = Counter(
    "gunma_router_employment_events_total", "Employment facts received by the registry", ["outcome"]
)
FOLLOW_CHANGES = Counter("gunma_router_follow_changes_total", "Follow/unfollow states applied")
NOTICES_RECEIVED = Counter("gunma_router_notices_received_total", "Notices recorded (first delivery only)")
NOTICES_RELEASED = Counter("gunma_router_notices_released_total", "Notices whose audience was snapshotted")
NOTICES_HELD = Counter("gunma_router_notices_held_total", "Notices held by quiet hours", ["stage"])
BATCHES_PUBLISHED = Counter("gunma_router_batches_published_total", "DeliveryPlanned published", ["purpose"])
RECIPIENTS_PLANNED = Counter("gunma_router_recipients_planned_total", "Recipients in audience snapshots")
SNAPSHOT_SECONDS = Histogram(
    "gunma_router_snapshot_seconds",
    "Time to resolve and snapshot a notice's audience",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
REMINDERS_RAISED = Counter("gunma_router_reminders_raised_total", "Personal reminders raised", ["rule"])
REMINDERS_SKIPPED = Counter(
    "gunma_router_reminders_skipped_total", "Reminders not sent at release", ["reason"]
)
DELIVERY_RESULTS = Counter("gunma_router_delivery_results_total", "Delivery results recorded", ["status"])
UNREACHABLE_MARKED = Counter("gunma_router_unreachable_marked_total", "Subscribers marked unreachable")
SCHEDULED_NOTICES = Gauge("gunma_router_scheduled_notices", "Notices waiting for their release time")
SCHEDULER_ERRORS = Counter("gunma_router_scheduler_errors_total", "Scheduler rounds that failed", ["task"])
