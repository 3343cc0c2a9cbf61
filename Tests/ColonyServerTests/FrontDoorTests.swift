import ColonyBench
import ColonyEngine
import ColonyHTTP
import ColonyModels
import Foundation
import Synchronization
import Testing

@testable import ColonyServer

#if canImport(Glibc)
    import Glibc
#endif

/// The engine behind a recorder: every request the server submits is kept.
final class RecordingBackend: InferenceBackend {
    let engine: Engine
    private let submitted = Mutex<[EngineRequest]>([])
    init(_ engine: Engine) { self.engine = engine }

    var requests: [EngineRequest] { submitted.withLock { $0 } }
    var tokenizer: Tokenizer { engine.tokenizer }
    var maxContextTokens: Int { engine.maxContextTokens }
    func submit(_ request: EngineRequest) async throws(EngineError) -> AsyncThrowingStream<EngineEvent, Error> {
        submitted.withLock { $0.append(request) }
        return try await engine.submit(request)
    }
    func cancel(_ id: String) async { await engine.cancel(id) }
    var stats: EngineStats { get async { await engine.stats } }
    var health: BackendHealth { get async { await engine.health } }
    func shutdown(cancelInFlight: Bool) async { await engine.shutdown(cancelInFlight: cancelInFlight) }
}

@Suite("front door: min_tokens, ignore_eos, oversized bodies, API keys", .serialized)
struct FrontDoorTests {
    @Test("ignore_eos and min_tokens reach the engine from both endpoints", arguments: ["/v1/chat/completions", "/v1/completions"])
    func passedThrough(path: String) async throws {
        var recorder: RecordingBackend?
        let s = try await TestServer(wrap: { engine in
            let r = RecordingBackend(engine)
            recorder = r
            return r
        })
        let input = path.hasSuffix("chat/completions") ? #""messages":[{"role":"user","content":"x"}]"# : #""prompt":"the""#
        let r = try await s.send("POST", path, json: "{\(input),\"max_tokens\":5,\"min_tokens\":3,\"ignore_eos\":true,\"temperature\":0}")
        #expect(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
        #expect((try s.object(r)["usage"] as? [String: Any])?["completion_tokens"] as? Int == 5, "no end token ends it early")
        let plain = try await s.send("POST", path, json: "{\(input),\"max_tokens\":2}")
        #expect(plain.status == 200)
        let sent = try #require(recorder).requests
        #expect(sent.map(\.minTokens) == [3, 0])
        #expect(sent.map(\.ignoreEOS) == [true, false])
        await s.stop()
    }

    @Test(
        "a bad min_tokens or ignore_eos is a 400 naming the field",
        arguments: [
            (#""max_tokens":4,"min_tokens":5"#, "min_tokens must be between 0 and max_tokens (4), got 5", "min_tokens"),
            (#""min_tokens":-1"#, "min_tokens must be between 0 and max_tokens", "min_tokens"),
            (#""min_tokens":"two""#, "field 'min_tokens' has the wrong type", nil),
            (#""ignore_eos":"yes""#, "field 'ignore_eos' has the wrong type", nil),
        ] as [(String, String, String?)])
    func refused(field: String, message: String, param: String?) async throws {
        let s = try await TestServer()
        for (path, input) in [
            ("/v1/chat/completions", #""messages":[{"role":"user","content":"x"}]"#), ("/v1/completions", #""prompt":"the""#),
        ] {
            let r = try await s.send("POST", path, json: "{\(input),\(field)}")
            #expect(r.status == 400)
            let error = try #require(try s.object(r)["error"] as? [String: Any])
            #expect((error["message"] as? String)?.contains(message) == true, "\(error)")
            #expect(error["param"] as? String == param)
        }
        #expect(s.engine.stats.finished.isEmpty, "a rejected request changes nothing")
        await s.stop()
    }

    @Test("an oversized body gets 413 with Connection: close, then end of file, and the server stays up")
    func oversizedBodyCloses() async throws {
        let s = try await TestServer()
        let port = s.port
        // Declares 8 MiB, sends 5 MiB (over the 4 MiB limit), then waits: a server that kept
        // reading for the rest would never answer with end of file.
        let reply = try await withCheckedThrowingContinuation { (c: CheckedContinuation<RawReply, Error>) in
            Thread.detachNewThread {
                c.resume(with: Result { try RawReply.exchange(port: port, declared: 8 << 20, sent: 5 << 20, timeout: 20) })
            }
        }
        #expect(reply.head.hasPrefix("HTTP/1.1 413"), "\(reply.head)")
        #expect(reply.head.lowercased().contains("connection: close"), "\(reply.head)")
        #expect(reply.body.contains("the request body exceeds 4194304 bytes"), "\(reply.body)")
        #expect(reply.endedWithEOF, "the server must close the connection after a 413")
        #expect(reply.seconds < 15)
        #expect(try await s.send("GET", "/health").status == 200)
        await s.stop()
    }

    @Test("the load generator's typed requests and stream chunks round-trip through the server")
    func loadGenerator() async throws {
        let s = try await TestServer(apiKey: "sesame")
        var generator = LoadGenerator(endpoint: s.endpoint)
        generator.requests = 3
        generator.concurrency = 2
        generator.maxTokens = 4
        generator.sharedPrefixWords = 5
        generator.apiKey = "sesame"
        let endpoint = generator
        let report = try await withCheckedThrowingContinuation { (c: CheckedContinuation<LoadGenerator.Report, Error>) in
            Thread.detachNewThread { c.resume(with: Result { try endpoint.run() }) }
        }
        #expect(report.errors == 0, "\(report.firstError ?? "")")
        #expect(report.requests == 3)
        #expect(report.outputTokens == 12, "usage.completion_tokens of the last chunk counts")
        #expect(report.ttftP50Ms > 0)
        await s.stop()
    }

    @Test(
        "API keys are compared byte by byte",
        arguments: [
            ("Bearer sesame", "Bearer sesame", true),
            ("Bearer sesamE", "Bearer sesame", false),
            ("Xearer sesame", "Bearer sesame", false),
            ("Bearer sesam", "Bearer sesame", false),
            ("Bearer sesame!", "Bearer sesame", false),
            ("", "Bearer sesame", false),
            ("", "", true),
        ])
    func constantTime(sent: String, expected: String, equal: Bool) {
        #expect(APIKeyMiddleware.constantTimeEquals(sent, expected) == equal)
    }

    @Test("a key that differs only at its end or in case is refused")
    func nearMisses() async throws {
        let s = try await TestServer(apiKey: "sesame")
        let body = #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1}"#
        for header in ["Bearer sesamf", "Bearer sesame2", "bearer sesame", "Bearer Sesame"] {
            #expect(
                try await s.send("POST", "/v1/chat/completions", json: body, headers: ["Authorization": header]).status == 401, "\(header)")
        }
        #expect(try await s.send("GET", "/v1/models", headers: ["Authorization": "Bearer sesame"]).status == 200)
        await s.stop()
    }
}

@Suite("API key sources")
struct APIKeySourceTests {
    static func file(_ contents: String?) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("colony-key-\(UUID().uuidString)").path
        if let contents { try contents.write(toFile: path, atomically: true, encoding: .utf8) }
        return path
    }

    @Test("each source alone gives the key; none gives none")
    func single() throws {
        #expect(try APIKeySource(flag: "a", file: nil, environment: nil).resolve() == "a")
        #expect(try APIKeySource(flag: nil, file: nil, environment: "b").resolve() == "b")
        #expect(try APIKeySource(flag: nil, file: try Self.file("c\n"), environment: nil).resolve() == "c")
        #expect(try APIKeySource(flag: nil, file: try Self.file("d\r\n\n"), environment: nil).resolve() == "d")
        #expect(try APIKeySource(flag: nil, file: try Self.file(" e "), environment: nil).resolve() == " e ", "only newlines are dropped")
        #expect(try APIKeySource(flag: nil, file: nil, environment: nil).resolve() == nil)
    }

    @Test("two sources, an empty one or a missing file are refused with a clear message")
    func refused() throws {
        let empty = try Self.file("\n")
        let missing = try Self.file(nil)
        let cases: [(APIKeySource, APIKeySource.Failure, String)] = [
            (
                .init(flag: "a", file: nil, environment: "b"), .conflicting(["--api-key", "COLONY_API_KEY"]),
                "an API key is given by both --api-key and COLONY_API_KEY; give it one way only"
            ),
            (
                .init(flag: nil, file: empty, environment: "b"), .conflicting(["--api-key-file", "COLONY_API_KEY"]),
                "an API key is given by both --api-key-file and COLONY_API_KEY; give it one way only"
            ),
            (
                .init(flag: "a", file: empty, environment: nil), .conflicting(["--api-key", "--api-key-file"]),
                "an API key is given by both --api-key and --api-key-file; give it one way only"
            ),
            (.init(flag: "", file: nil, environment: nil), .empty(source: "--api-key"), "--api-key must not be empty"),
            (.init(flag: nil, file: nil, environment: ""), .empty(source: "COLONY_API_KEY"), "COLONY_API_KEY must not be empty"),
            (
                .init(flag: nil, file: empty, environment: nil), .empty(source: "--api-key-file '\(empty)'"),
                "--api-key-file '\(empty)' must not be empty"
            ),
            (
                .init(flag: nil, file: missing, environment: nil), .unreadable(path: missing, reason: "no such file"),
                "cannot read --api-key-file '\(missing)': no such file"
            ),
        ]
        for (source, failure, message) in cases {
            #expect(throws: failure) { try source.resolve() }
            #expect(failure.description == message)
        }
    }
}

/// One raw HTTP exchange over a socket: what a hostile client sees.
struct RawReply {
    var head = ""
    var body = ""
    var endedWithEOF = false
    var seconds = 0.0

    struct SocketError: Error, CustomStringConvertible { let description: String }

    /// Sends a POST head declaring `declared` body bytes, then `sent` bytes of body, then reads
    /// until end of file or `timeout` seconds without data.
    static func exchange(port: Int, declared: Int, sent: Int, timeout: Int) throws -> RawReply {
        let start = Date()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket() failed") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketError(description: "connect() failed") }
        let head =
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(declared)\r\n\r\n"
        var bytes = Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: sent)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server may stop reading once it has answered
            offset += n
        }
        bytes = []
        var received: [UInt8] = []
        var reply = RawReply()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                received += buffer[0..<n]
                continue
            }
            reply.endedWithEOF = n == 0
            break
        }
        let text = String(decoding: received, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        reply.head = parts.first ?? ""
        reply.body = parts.dropFirst().joined(separator: "\r\n\r\n")
        reply.seconds = Date().timeIntervalSince(start)
        return reply
    }
}
