import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The status of `GET path` on 127.0.0.1:`port`, read from the status line of a raw HTTP/1.0 exchange.
private func httpStatus(port: Int, path: String, headers: [String: String] = [:]) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n" + headers.map { "\($0): \($1)\r\n" }.joined() + "\r\n"
    _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    guard n > 12 else { return nil }
    return Int(String(decoding: buffer[9..<12], as: UTF8.self))
}

@Suite("colony serve: API key sources", .serialized)
struct ServeKeyCLITests {
    let model = ["serve", "--model", CLI.tinyModel, "--port", "0"]

    static func keyFile(_ contents: String?) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("colony-key-\(UUID().uuidString)").path
        if let contents { try contents.write(toFile: path, atomically: true, encoding: .utf8) }
        return path
    }

    @Test(
        "two key sources, an empty key file or a missing one are refused before the model loads",
        arguments: [
            (["--api-key", "a", "--api-key-file", "FILE"], [:], "an API key is given by both --api-key and --api-key-file"),
            (["--api-key", "a"], ["COLONY_API_KEY": "b"], "an API key is given by both --api-key and COLONY_API_KEY"),
            (["--api-key-file", "FILE"], ["COLONY_API_KEY": "b"], "an API key is given by both --api-key-file and COLONY_API_KEY"),
            (["--api-key-file", "EMPTY"], [:], "--api-key-file 'EMPTY' must not be empty"),
            (["--api-key-file", "MISSING"], [:], "cannot read --api-key-file 'MISSING': no such file"),
            (["--api-key", ""], [:], "--api-key must not be empty"),
        ] as [([String], [String: String], String)])
    func refused(arguments: [String], environment: [String: String], message: String) throws {
        let paths = ["FILE": try Self.keyFile("k\n"), "EMPTY": try Self.keyFile("\n"), "MISSING": try Self.keyFile(nil)]
        let resolved = arguments.map { paths[$0] ?? $0 }
        let expected = paths.reduce(message) { $0.replacingOccurrences(of: "'\($1.key)'", with: "'\($1.value)'") }
        let r = try CLI.run(model + resolved, environment: environment)
        #expect(r.status != 0)
        #expect(r.stderr.contains(expected), "\(r.stderr)")
        #expect(!r.stderr.contains("serving"), "it must not start")
    }

    @Test("a key from COLONY_API_KEY or --api-key-file is required by the server", arguments: ["env", "file"])
    func keyRequired(source: String) throws {
        let port = 20_000 + Int.random(in: 0..<2000)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments =
            ["serve", "--model", CLI.tinyModel, "--port", String(port)]
            + (source == "file" ? ["--api-key-file", try Self.keyFile("sesame\n")] : [])
        if source == "env" {
            server.environment = ProcessInfo.processInfo.environment.merging(["COLONY_API_KEY": "sesame"]) { _, new in new }
        }
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        try #require(CLI.waitForPort(port), "colony serve did not start listening")
        #expect(httpStatus(port: port, path: "/v1/models") == 401)
        #expect(httpStatus(port: port, path: "/v1/models", headers: ["Authorization": "Bearer sesame"]) == 200)
        #expect(httpStatus(port: port, path: "/health") == 200)
    }
}
