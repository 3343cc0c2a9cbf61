import ArgumentParser
import ColonyEngine
import ColonyModels
import ColonyRegistry
import Foundation

/// Options every model command shares.
struct ModelOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "A GGUF model: a path, or ref:NAME[@REF] from the registry (default: $COLONY_MODEL or models/SmolLM2-135M-Instruct.Q4_1.gguf)."
    )
    var model: String?

    /// The registry version a `ref:` resolved to (`NAME@ID`), set by `validate`.
    var version: String? = nil
    /// What a `ref:` resolved to in full (the base whose weights load, the adapter on it).
    var resolved: RegistryOptions.Resolved? = nil

    @Option(name: .long, help: "Worker threads for the forward pass (default: all cores).")
    var threads: Int?

    @Option(
        name: .long,
        help: "Activations in matrix products: int16 (fast, near-exact), int8 (fastest, as llama.cpp) or float32 (exact reference).")
    var precision: String = "int16"

    @Option(
        name: .long,
        help:
            "Element type of the KV cache: f16 (half the memory and attention traffic; greedy output unchanged on the tests) or f32 (exact)."
    )
    var kvType: String = "f16"

    @Flag(name: .long, help: "Log details to stderr.")
    var verbose = false

    var modelPath: String { ModelLocation.path(model) }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// The model id a server shows and expects: `override`, else the registry version
    /// (`NAME@ID`), else the file name without extension.
    func servedName(_ override: String?) -> String {
        override ?? version ?? ((modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// The flags as given, to pass on to a child process; a registry model goes as its
    /// version id, so every child serves exactly that version under the same name.
    var arguments: [String] {
        let pinned = version.flatMap { $0.split(separator: "@").last.map { ModelReference.scheme + $0 } }
        return ["--model", pinned ?? modelPath, "--precision", precision, "--kv-type", kvType]
            + (threads.map { ["--threads", "\($0)"] } ?? [])
            + (verbose ? ["--verbose"] : [])
    }

    mutating func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
        // A registry reference becomes the path of its checked weights before anything opens them.
        if let given = model ?? ProcessInfo.processInfo.environment[ModelLocation.environmentVariable],
            given.hasPrefix(ModelReference.scheme)
        {
            let resolved = try RegistryOptions.resolve(given)
            model = resolved.path
            version = resolved.version
            self.resolved = resolved
        }
        guard ActivationPrecision(rawValue: precision) != nil else {
            throw ValidationError(
                "--precision must be one of \(ActivationPrecision.allCases.map(\.rawValue).joined(separator: ", ")), got '\(precision)'")
        }
        guard KVCacheType(rawValue: kvType) != nil else {
            throw ValidationError(
                "--kv-type must be one of \(KVCacheType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(kvType)'")
        }
    }

    /// Opens the model `given` by `option` (or the default); a missing file is a usage error.
    static func open(_ given: String?, option: String = "--model") throws -> GGUFFile {
        try usage { try ModelLocation.open(given, option: option) }
    }

    /// Refuses a registry adapter version: a command that runs whole models would run its
    /// base without it.
    func requireWholeModel() throws {
        if let version, resolved?.adapter != nil {
            throw ValidationError(
                "--model: \(version) is a LoRA adapter version; `colony serve` runs adapters on their base, other commands need a whole model (the run's model.gguf)"
            )
        }
    }

    /// Loads the model (the base, for an adapter version); `adapters`: the command applies a
    /// registry adapter itself, else an adapter version is refused rather than run without it.
    func loadModel(adapters: Bool = false) throws -> (LlamaModel, Tokenizer) {
        if !adapters { try requireWholeModel() }
        return try Self.usage {
            try ModelLocation.load(
                model, threads: threadCount, precision: ActivationPrecision(rawValue: precision)!, kvType: KVCacheType(rawValue: kvType)!)
        }
    }

    /// A missing model file reported as a usage error, as ArgumentParser shows them.
    private static func usage<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ModelError {
            if case .modelNotFound = error { throw ValidationError(error.description) }
            throw error
        }
    }
}

/// Sampling flags shared by generate and chat.
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Maximum tokens to generate.")
    var maxTokens = 256
    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8
    @Option(name: .long, help: "Keep the K most likely tokens (0 = all).")
    var topK = 40
    @Option(name: .long, help: "Nucleus sampling threshold in (0, 1].")
    var topP: Float = 0.95
    @Option(name: .long, help: "Drop tokens below min-p × the top probability.")
    var minP: Float = 0.05
    @Option(name: .long, help: "Repetition penalty (1 = off).")
    var repeatPenalty: Float = 1
    @Option(name: .long, help: "Presence penalty.")
    var presencePenalty: Float = 0
    @Option(name: .long, help: "Frequency penalty.")
    var frequencyPenalty: Float = 0
    @Option(name: .long, help: "Random seed (same seed, same output).")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Stop when this text appears (repeatable).")
    var stop: [String] = []

    var parameters: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature
        p.topK = topK
        p.topP = topP
        p.minP = minP
        p.repetitionPenalty = repeatPenalty
        p.presencePenalty = presencePenalty
        p.frequencyPenalty = frequencyPenalty
        p.seed = seed
        return p
    }

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be > 0, got \(maxTokens)") }
        do { try parameters.validate() } catch { throw ValidationError(error.description) }
    }

    var options: GenerationOptions {
        var o = GenerationOptions()
        o.maxTokens = maxTokens
        o.sampling = parameters
        o.stopStrings = stop
        return o
    }
}

/// Writes to stdout without buffering a whole line, so streamed tokens appear at once.
func writeOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

func writeErr(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
