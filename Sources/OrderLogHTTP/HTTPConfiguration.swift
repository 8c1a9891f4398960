/// The HTTP API's settings (`orderlog serve --http-port`, docs/openapi.yaml).
public struct HTTPConfiguration: Sendable {
    /// Address to bind; loopback unless told otherwise.
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests).
    public var port = 8080
    /// The largest request body, bytes: a POST of events (each at most 1 MiB as JSON, at most
    /// 10,000 of them) is refused past it with 413. Default 8 MiB.
    public var bodyBytesMax = 8 << 20
    /// Requests one connection may make a second, sustained (a token bucket holding twice
    /// this for bursts); past it, 429 with `Retry-After`. Default 1,000.
    public var requestsPerSecond = 1_000
    /// Orders one page of a list holds at most (`limit` is capped to it). Default 1,000.
    public var pageLimitMax = 1_000
    /// Live event streams (`GET /events`) open at once, server-wide; past it, 503. Default 1,024.
    public var streamsMax = 1_024
    /// How often an idle event stream sends a comment, so proxies keep it and a peer that
    /// went away is found (its place among `streamsMax` given back) at the write after.
    public var keepAlive: Duration = .seconds(10)

    public init() {}
}
