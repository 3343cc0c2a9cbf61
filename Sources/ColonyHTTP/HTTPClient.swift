import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A small blocking HTTP/1.1 client for loopback use: the load generator and the server's
/// tests. It streams the (de-chunked) body to a callback as bytes arrive, which is what
/// timing server-sent events needs. One request per connection (`Connection: close`).
public enum HTTPClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Where a request goes; only `http://` on a loopback host is accepted.
    public struct Endpoint: Sendable, CustomStringConvertible {
        public let host: String
        public let port: Int
        public let basePath: String

        /// Parses `http://HOST:PORT[/path]`; refuses hosts that are not loopback unless
        /// `anyHost` (the load generator only targets this machine; etcd may live elsewhere).
        public init(url: String, anyHost: Bool = false) throws(Failure) {
            guard let u = URL(string: url), u.scheme == "http", let host = u.host else {
                throw Failure(description: "'\(url)' is not an http:// URL with a host")
            }
            let loopback = host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
            guard loopback || anyHost else {
                throw Failure(description: "'\(host)' is not a loopback address; the load generator only targets this machine")
            }
            self.host = host == "localhost" ? "127.0.0.1" : host
            port = u.port ?? 80
            basePath = u.path.hasSuffix("/") ? String(u.path.dropLast()) : u.path
        }

        public var description: String { "\(host):\(port)" }
    }

    public struct Response: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data
    }

    /// Sends one request and returns the response; `onBody` sees body bytes as they arrive
    /// (return false to hang up early). The returned body holds everything received.
    public static func send(
        _ method: String, _ endpoint: Endpoint, path: String, headers: [String: String] = [:],
        body: Data? = nil, timeout: Double = 120,
        onBody: (Data) -> Bool = { _ in true }
    ) throws(Failure) -> Response {
        let fd = try connect(endpoint, timeout: timeout)
        defer { close(fd) }
        var head = "\(method) \(endpoint.basePath)\(path) HTTP/1.1\r\nHost: \(endpoint.host):\(endpoint.port)\r\nConnection: close\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var out = Data(head.utf8)
        if let body { out.append(body) }
        try writeAll(fd, out)

        var reader = Reader(fd: fd)
        guard let statusLine = try reader.line(), statusLine.hasPrefix("HTTP/1.") else {
            throw Failure(description: "no HTTP status line from the server")
        }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "bad status line '\(statusLine)'") }
        var responseHeaders: [String: String] = [:]
        while let line = try reader.line(), !line.isEmpty {
            if let colon = line.firstIndex(of: ":") {
                responseHeaders[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        var received = Data()
        func deliver(_ d: Data) -> Bool {
            received.append(d)
            return onBody(d)
        }
        if responseHeaders["transfer-encoding"]?.lowercased() == "chunked" {
            while let sizeLine = try reader.line() {
                guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
                    throw Failure(description: "bad chunk size '\(sizeLine)'")
                }
                if size == 0 { break }
                let chunk = try reader.bytes(size)
                _ = try reader.line()
                if !deliver(chunk) { break }
            }
        } else if let length = responseHeaders["content-length"].flatMap(Int.init) {
            if length > 0 { _ = deliver(try reader.bytes(length)) }
        } else {
            while let more = try reader.some() { if !deliver(more) { break } }
        }
        return Response(status: status, headers: responseHeaders, body: received)
    }

    private static func connect(_ e: Endpoint, timeout: Double) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let host = e.host.trimmingCharacters(in: ["[", "]"])
        guard getaddrinfo(host, String(e.port), &hints, &result) == 0, let info = result else {
            throw Failure(description: "cannot resolve \(e.host)")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // Also bounds connect(): an unreachable host fails after `timeout`, not minutes.
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        guard Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot connect to \(e.host):\(e.port): \(reason)")
        }
        return fd
    }

    private static func writeAll(_ fd: Int32, _ data: Data) throws(Failure) {
        var failed = false
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 {
                    failed = true
                    return
                }
                offset += n
            }
        }
        if failed { throw Failure(description: "the server closed the connection while the request was sent") }
    }

    /// Buffered reads from a socket.
    private struct Reader {
        let fd: Int32
        var buffer = Data()

        mutating func fill() throws(Failure) -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16384)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 { throw Failure(description: "read failed: \(String(cString: strerror(errno)))") }
            if n == 0 { return false }
            buffer.append(contentsOf: chunk[0..<n])
            return true
        }

        mutating func line() throws(Failure) -> String? {
            while true {
                if let i = buffer.firstIndex(of: 0x0A) {
                    var lineData = buffer[buffer.startIndex..<i]
                    if lineData.last == 0x0D { lineData = lineData.dropLast() }
                    buffer = Data(buffer[(i + 1)...])
                    return String(decoding: lineData, as: UTF8.self)
                }
                guard try fill() else { return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self) }
            }
        }

        mutating func bytes(_ n: Int) throws(Failure) -> Data {
            while buffer.count < n { guard try fill() else { throw Failure(description: "the response ended early") } }
            let out = Data(buffer.prefix(n))
            buffer = Data(buffer.dropFirst(n))
            return out
        }

        mutating func some() throws(Failure) -> Data? {
            if buffer.isEmpty, try !fill() { return nil }
            defer { buffer = Data() }
            return buffer
        }
    }
}

/// Splits a server-sent-event body into the payloads of its `data:` lines.
public struct SSEParser {
    private var pending = ""
    public init() {}

    public mutating func feed(_ data: Data) -> [String] {
        pending += String(decoding: data, as: UTF8.self)
        var events: [String] = []
        while let range = pending.range(of: "\n\n") {
            let block = pending[..<range.lowerBound]
            pending = String(pending[range.upperBound...])
            for line in block.split(separator: "\n") where line.hasPrefix("data:") {
                events.append(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
            }
        }
        return events
    }
}
