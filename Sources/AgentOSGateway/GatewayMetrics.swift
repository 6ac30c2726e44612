import AgentOSWire
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus

/// The gateway's Prometheus metrics, served at `GET /metrics`: requests by route, method
/// and status, their durations, and, read from the server at each scrape, whether it is
/// reachable and how many workers are connected; then the server's own metrics (the queue,
/// jobs by outcome, queue waits and runs, dispatches, workers, missed heartbeats, the bus's
/// commits), which it gives for the `metrics` operation. Each gateway has its own registry
/// (no global metrics system), so several can live in one process.
public final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let serverUp: Gauge
    private let workers: Gauge

    /// A fresh registry.
    public init() {
        serverUp = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "agentos", subsystem: "gateway", metricName: "server", unitName: "up",
            helpText: "1 when the server answered the last scrape's health check"))
        workers = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "agentos", metricName: "workers", unitName: "connected", helpText: "Workers connected to the server"))
    }

    /// Durations from 1 ms to 5 minutes (long polls included).
    static let buckets: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100),
                                      .milliseconds(500), .seconds(2), .seconds(10), .seconds(60), .seconds(300)]

    func record(route: String, method: String, status: Int, duration: Duration) {
        let labels = [("route", route), ("method", method), ("status", String(status))]
        registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "agentos", subsystem: "gateway", metricName: "requests", unitName: "total",
            helpText: "HTTP requests answered"), labels: labels).increment()
        registry.makeDurationHistogram(descriptor: MetricNameDescriptor(
            namespace: "agentos", subsystem: "gateway", metricName: "request_duration", unitName: "seconds",
            helpText: "Time to answer an HTTP request"), labels: [("route", route), ("method", method)], buckets: Self.buckets
        ).record(duration)
    }

    /// The exposition text, after asking the server how it is, with the server's own metrics
    /// after the gateway's (none while it cannot be reached: `agentos_gateway_server_up` 0).
    func scrape(client: any ServerCalls) async -> Response {
        var server: [UInt8] = []
        switch await client.call(.health, token: nil, timeout: .seconds(2)) {
        case .success(let answer) where answer.status == 200:
            serverUp.set(to: 1.0)
            workers.set(to: answer.json?["workers"]?.doubleValue ?? 0)
            if case .success(let metrics) = await client.call(.metrics, token: nil, timeout: .seconds(2)), metrics.status == 200 {
                server = Array(metrics.body)
            }
        default:
            serverUp.set(to: 0.0)
        }
        var buffer = ByteBuffer(bytes: registry.emitToBuffer())
        buffer.writeBytes(server)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: ResponseBody(byteBuffer: buffer))
    }
}

/// Counts and times every request by its route pattern (never the raw path: ids would make
/// unbounded label sets).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        metrics.record(
            route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: response.status.code,
            duration: ContinuousClock.now - start)
        return response
    }
}
