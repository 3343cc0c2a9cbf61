import Foundation

/// Where `colony serve` takes its API key from: the `--api-key` flag, the `COLONY_API_KEY`
/// environment variable, or a file named by `--api-key-file` (kept out of `ps` and shell
/// history). At most one may be given.
public struct APIKeySource: Sendable, Equatable {
    public var flag: String?
    public var file: String?
    public var environment: String?

    /// The environment variable read for the key.
    public static let variable = "COLONY_API_KEY"

    public init(flag: String?, file: String?, environment: String?) {
        self.flag = flag
        self.file = file
        self.environment = environment
    }

    /// Why no key could be taken.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Two or more sources give a key (named as the user wrote them).
        case conflicting([String])
        /// The source is present but empty.
        case empty(source: String)
        /// The key file cannot be read.
        case unreadable(path: String, reason: String)

        public var description: String {
            switch self {
            case .conflicting(let sources):
                "an API key is given by both \(sources.joined(separator: " and ")); give it one way only"
            case .empty(let source): "\(source) must not be empty"
            case .unreadable(let path, let reason): "cannot read --api-key-file '\(path)': \(reason)"
            }
        }
    }

    /// The key, or nil when no source gives one. A key file's trailing newlines are dropped
    /// (`echo KEY > file` writes one).
    public func resolve() throws(Failure) -> String? {
        let given = [("--api-key", flag), ("--api-key-file", file), (Self.variable, environment)].filter { $0.1 != nil }
        guard given.count <= 1 else { throw .conflicting(given.map(\.0)) }
        if let flag {
            guard !flag.isEmpty else { throw .empty(source: "--api-key") }
            return flag
        }
        if let environment {
            guard !environment.isEmpty else { throw .empty(source: Self.variable) }
            return environment
        }
        guard let file else { return nil }
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            let reason = FileManager.default.fileExists(atPath: file) ? "it is not readable UTF-8 text" : "no such file"
            throw .unreadable(path: file, reason: reason)
        }
        var key = Substring(text)
        while let last = key.last, last.isNewline { key = key.dropLast() }
        guard !key.isEmpty else { throw .empty(source: "--api-key-file '\(file)'") }
        return String(key)
    }
}
