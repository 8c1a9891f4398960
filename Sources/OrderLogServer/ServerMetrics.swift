import CoreMetrics
import Metrics

/// The server's metrics, through swift-metrics: the process decides where they go
/// (`orderlog serve --metrics-port` serves them in Prometheus text format).
struct ServerMetrics: Sendable {
    let eventsAppended = Counter(label: "orderlog_events_appended_total")
    let bytesAppended = Counter(label: "orderlog_bytes_appended_total")
    let duplicates = Counter(label: "orderlog_events_duplicate_total")
    let appendLatency = Metrics.Timer(label: "orderlog_append_seconds")
    let connectionsAccepted = Counter(label: "orderlog_connections_accepted_total")
    let connections = Gauge(label: "orderlog_connections")
    let subscriptions = Gauge(label: "orderlog_subscriptions")
    let subscriptionLag = Recorder(label: "orderlog_subscription_lag_events")
    let protocolErrors = Counter(label: "orderlog_protocol_errors_total")
    // The store, sampled twice a second: its size, its memory, its checkpoints.
    let orders = Gauge(label: "orderlog_orders")
    let cachedSnapshots = Gauge(label: "orderlog_snapshot_cache_orders")
    let cacheBytes = Gauge(label: "orderlog_snapshot_cache_bytes")
    let logEnd = Gauge(label: "orderlog_log_end_position")
    let checkpointPosition = Gauge(label: "orderlog_checkpoint_position")
    let eventsSinceCheckpoint = Gauge(label: "orderlog_events_since_checkpoint")
    let memoryLimit = Gauge(label: "orderlog_memory_limit_bytes")
    let residentBytes = Gauge(label: "orderlog_resident_bytes")
    let keyDirectoryBytes = Gauge(label: "orderlog_key_directory_bytes")
    let ordersInMemory = Gauge(label: "orderlog_orders_in_memory")

    func rejected(_ code: String) {
        Counter(label: "orderlog_events_rejected_total", dimensions: [("code", code)]).increment()
    }
}
