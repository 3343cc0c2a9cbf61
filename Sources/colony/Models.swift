import ArgumentParser
import ColonyRegistry
import ColonyServer
import ColonyStore
import Foundation
import Synchronization

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Model versions with git-style refs: register, list, show, diff, tag, promote, rollback, split, log.",
        discussion: """
            Every version is immutable: its weights (by SHA-256), parent, training configuration, \
            evaluation report and run. Refs per name (prod, dev, feature/<x>) move atomically and \
            every move is logged. Anywhere a model is named, `ref:NAME[@REF]` (default @prod) or a \
            version id resolves through the registry, with the weights' digest checked.
            """,
        subcommands: [
            ModelsRegister.self, ModelsList.self, ModelsShow.self, ModelsDiff.self, ModelsTag.self, ModelsPromote.self,
            ModelsRollback.self, ModelsSplit.self, ModelsLog.self,
        ])
}

/// Where the registry lives: its database and its blob directory.
struct RegistryOptions: ParsableArguments {
    @Option(
        name: [.long, .customLong("db")],
        help: "Versions and refs: a SQLite file or postgres://user@host:port/db (default: $COLONY_STORE or .colony/colony.sqlite).")
    var store: String?

    @Option(name: .long, help: "Directory of the weights, by digest (default: $COLONY_REGISTRY or .colony/registry).")
    var registry: String?

    func open() throws -> Registry { try Self.open(store: store, registry: registry) }

    /// The registry in `store` with blobs in `registry`, else where the environment or the
    /// defaults say.
    static func open(store: String?, registry: String?) throws -> Registry {
        let root = registry ?? ProcessInfo.processInfo.environment["COLONY_REGISTRY"] ?? ".colony/registry"
        return Registry(store: try StoreLocation.open(StoreLocation.resolve(store)), root: root)
    }

    /// A `ref:` resolved: the checked weights to load (for an adapter version, those of the
    /// whole model it runs on), the version as `NAME@ID`, and the ids of that base and of the
    /// adapter, if any.
    struct Resolved: Codable {
        let path: String
        let version: String
        let name: String
        let base: String
        let adapter: String?
    }

    /// The resolution of a `ref:` given to `--model` (or `--base`), with the registry in its
    /// default place or where `$COLONY_STORE`/`$COLONY_REGISTRY` say. Option parsing is
    /// synchronous; the registry is not, so this waits for it.
    static func resolve(_ reference: String) throws -> Resolved {
        let outcome = Mutex<Result<Resolved, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do {
                let registry = try RegistryOptions.open(store: nil, registry: nil)
                let v = try await registry.resolve(try ModelReference(reference))
                let runsOn = try await RegistryCatalog.base(of: v, in: registry)
                let resolved = Resolved(
                    path: try registry.weights(of: runsOn.base), version: "\(v.name)@\(v.id)", name: v.name, base: runsOn.base.id,
                    adapter: try runsOn.adapter.map { try registry.weights(of: $0) })
                outcome.withLock { $0 = .success(resolved) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        switch outcome.withLock({ $0 })! {
        case .success(let r): return r
        case .failure(let error): throw ValidationError("--model \(reference): \(error)")
        }
    }
}

/// A version as `--json` prints it: every field by its registry name, with its refs.
private struct VersionJSON: Encodable {
    let version: ModelVersion
    let refs: [String]

    func encode(to encoder: Encoder) throws {
        try version.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(refs, forKey: Key(stringValue: "refs")!)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// Pretty JSON with sorted keys and ISO 8601 dates, for `--json`.
private func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
}

private func readOptional(_ path: String?, _ option: String) throws -> String? {
    guard let path else { return nil }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ValidationError("cannot read the \(option) file '\(path)'")
    }
    return text
}

struct ModelsRegister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Register a GGUF (or adapter) file as a version of NAME; prints its id.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "The model's name.") var name: String
    @Argument(help: "The weights file.") var file: String
    @Option(name: .long, help: "The ref to point at the version: prod, dev or feature/<x>.") var ref = "dev"
    @Option(name: .long, help: "The version it was trained from.") var parent: String?
    @Option(name: .long, help: "Its training configuration (a file).") var config: String?
    @Option(name: .long, help: "Its evaluation report (a JSON file).") var eval: String?
    @Option(name: .long, help: "SHA-256 of its training data.") var dataDigest: String?
    @Option(name: .long, help: "The run that produced it.") var run: String?
    @Option(name: .long, help: "Why, for the log.") var why: String?

    func validate() throws {
        do {
            try ModelReference.check(name: name)
            try ModelReference.check(ref: ref)
        } catch { throw ValidationError(error.description) }
        guard FileManager.default.fileExists(atPath: file) else { throw ValidationError("no file at '\(file)'") }
        if let eval, let text = try readOptional(eval, "--eval"), (try? JSONSerialization.jsonObject(with: Data(text.utf8))) == nil {
            throw ValidationError("the --eval file '\(eval)' is not JSON")
        }
    }

    func run() async throws {
        let registry = try options.open()
        let (version, created) = try await registry.register(
            name: name, file: file, ref: ref, parent: parent, config: try readOptional(config, "--config"),
            eval: try readOptional(eval, "--eval"), dataDigest: dataDigest, run: run, why: why)
        if !created { writeErr("\(file) is already registered as \(version.id) (\(version.name))\n") }
        writeOut(version.id + "\n")
    }
}

struct ModelsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List versions, oldest first.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "Only this model's versions.") var name: String?
    @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

    func run() async throws {
        let listed = try await options.open().list(name: name)
        if json {
            writeOut(try prettyJSON(listed.map { VersionJSON(version: $0.version, refs: $0.refs) }))
            return
        }
        let rows = listed.map { v, refs in
            [v.id, v.name, refs.joined(separator: ","), v.parent ?? "-", ISO8601DateFormatter().string(from: v.createdAt)]
        }
        writeOut(textTable(header: ["VERSION", "NAME", "REFS", "PARENT", "CREATED"], rows: rows))
    }
}

struct ModelsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one version: ID or NAME@REF.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "A version id, or NAME[@REF].") var version: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let registry = try options.open()
        let v = try await registry.resolve(try ModelReference(version))
        let refs = try await registry.store.refs(name: v.name).filter { $0.value == v.id }.map(\.key).sorted()
        if json {
            writeOut(try prettyJSON(VersionJSON(version: v, refs: refs)))
            return
        }
        var lines = [
            "version   \(v.id)", "name      \(v.name)", "digest    sha256:\(v.digest)", "refs      \(refs.joined(separator: ", "))",
            "parent    \(v.parent ?? "-")", "created   \(ISO8601DateFormatter().string(from: v.createdAt))",
        ]
        if let d = v.dataDigest { lines.append("data      sha256:\(d)") }
        if let r = v.run { lines.append("run       \(r)") }
        if let c = v.config {
            lines.append("config:\n" + c.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
        }
        if let e = v.eval { lines.append("eval:\n  " + e) }
        writeOut(lines.joined(separator: "\n") + "\n")
    }
}

struct ModelsDiff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Two versions side by side: their fields, training configurations and evaluation reports.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "A version id or NAME[@REF].") var a: String
    @Argument(help: "Another.") var b: String

    func run() async throws {
        let registry = try options.open()
        let x = try await registry.resolve(try ModelReference(a))
        let y = try await registry.resolve(try ModelReference(b))
        var rows: [[String]] = []
        let fields: [(String, (ModelVersion) -> String)] = [
            ("name", { $0.name }), ("digest", { String($0.digest.prefix(16)) }), ("parent", { $0.parent ?? "-" }),
            ("data_digest", { $0.dataDigest.map { String($0.prefix(16)) } ?? "-" }), ("run", { $0.run ?? "-" }),
        ]
        for (field, get) in fields { rows.append([get(x) == get(y) ? " " : "*", field, get(x), get(y)]) }
        for (label, get) in [("config", { (v: ModelVersion) in v.config }), ("eval", { (v: ModelVersion) in v.eval })] {
            for (key, l, r) in Self.pairs(get(x), get(y)) { rows.append([l == r ? " " : "*", "\(label).\(key)", l, r]) }
        }
        writeOut(textTable(header: ["", "FIELD", x.id, y.id], rows: rows))
    }

    /// The keys of two JSON objects (or lines of two texts) with each side's value.
    static func pairs(_ a: String?, _ b: String?) -> [(String, String, String)] {
        func flat(_ text: String?) -> [String: String] {
            guard let text else { return [:] }
            if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] {
                return object.mapValues { v in
                    (try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed, .sortedKeys]))
                        .map { String(decoding: $0, as: UTF8.self) } ?? "\(v)"
                }
            }
            var out: [String: String] = [:]
            for (i, line) in text.split(separator: "\n").enumerated() {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 {
                    out[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
                } else {
                    out["line \(i + 1)"] = String(line)
                }
            }
            return out
        }
        let (l, r) = (flat(a), flat(b))
        return Set(l.keys).union(r.keys).sorted().map { ($0, l[$0] ?? "-", r[$0] ?? "-") }
    }
}

struct ModelsTag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Point NAME@REF at a version of NAME.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "The model's name.") var name: String
    @Argument(help: "prod, dev or feature/<x>.") var ref: String
    @Argument(help: "The version id.") var id: String
    @Option(name: .long, help: "Why, for the log.") var why: String?

    func run() async throws {
        try await options.open().tag(name: name, ref: ref, id: id, why: why)
        writeOut("\(name)@\(ref) → \(id)\n")
    }
}

struct ModelsPromote: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "promote", abstract: "Move NAME@prod to a version of NAME.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "The model's name.") var name: String
    @Argument(help: "The version id.") var id: String
    @Option(name: .long, help: "Why, for the log.") var why: String?

    func run() async throws {
        try await options.open().promote(name: name, id: id, why: why)
        writeOut("\(name)@prod → \(id)\n")
    }
}

struct ModelsRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Move NAME@prod back to the version it held before the current one.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "The model's name.") var name: String
    @Option(name: .long, help: "Why, for the log.") var why: String?

    func run() async throws {
        let id = try await options.open().rollback(name: name, why: why)
        writeOut("\(name)@prod → \(id)\n")
    }
}

struct ModelsLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "Every move of NAME's refs: who, when, from, to, why.")

    @OptionGroup var options: RegistryOptions
    @Argument(help: "The model's name.") var name: String
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let moves = try await options.open().store.log(name: name)
        if json {
            writeOut(try prettyJSON(moves))
            return
        }
        let rows = moves.map {
            [ISO8601DateFormatter().string(from: $0.at), $0.who, $0.ref, $0.from ?? "-", $0.to, $0.action, $0.why ?? ""]
        }
        writeOut(textTable(header: ["AT", "WHO", "REF", "FROM", "TO", "ACTION", "WHY"], rows: rows))
    }
}
