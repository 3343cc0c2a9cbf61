import Foundation

/// Where a command finds its model: the path it was given, else `$COLONY_MODEL`, else the
/// default model that `./scripts/setup` fetches.
public enum ModelLocation {
    public static let defaultPath = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let environmentVariable = "COLONY_MODEL"

    /// `given`, else `$COLONY_MODEL`, else `defaultPath`.
    public static func path(_ given: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        given ?? environment[environmentVariable] ?? defaultPath
    }

    /// Opens the GGUF file at `path(given)`.
    /// - Throws: `ModelError.modelNotFound` (whose message says how to get the default model
    ///   when none was given; `option` names the flag that takes a path), or a GGUF error.
    public static func open(_ given: String?, option: String = "--model") throws -> GGUFFile {
        let path = path(given)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ModelError.modelNotFound(
                path: path, hint: given == nil ? "run ./scripts/setup to fetch the default model, or pass \(option) PATH" : nil)
        }
        return try GGUFFile(contentsOf: path)
    }

    /// The model and its tokenizer, ready to run on `threads` workers with caches of `kvType`.
    public static func load(
        _ given: String?, threads: Int, precision: ActivationPrecision, kvType: KVCacheType = .f16
    ) throws -> (LlamaModel, Tokenizer) {
        let file = try open(given)
        let tokenizer = try Tokenizer(gguf: file)
        let model = try LlamaModel(gguf: file, threads: threads)
        model.precision = precision
        model.kvType = kvType
        return (model, tokenizer)
    }
}
