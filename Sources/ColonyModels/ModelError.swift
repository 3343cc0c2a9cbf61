import ColonyTensor

/// What can be wrong when loading or running a model.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case gguf(GGUFError)
    case tensor(TensorError)
    case unknownArchitecture(String, known: [String])
    case missingTensor(String)
    case invalidConfiguration(String)
    case unsupportedTokenizer(String)
    case unknownPreTokenizer(String, known: [String])
    case invalidTokenizer(String)
    case unknownChatTemplate(String, known: [String])
    case noChatTemplate
    /// A chat template that does not parse or render: its name and why.
    case invalidChatTemplate(String, String)
    /// The chat template refused the conversation (`raise_exception`): its message.
    case chatTemplateRaised(String)
    case invalidMessages(String)
    case invalidBatch(String)
    case tokenOutOfRange(Int, vocabularySize: Int)
    case contextFull(sequence: Int, needed: Int, capacity: Int)
    case blockTableTooShort(sequence: Int, positions: Int, blocks: Int, blockSize: Int)
    case invalidSampling(String)
    /// No file at `path`; `hint` says how to get one.
    case modelNotFound(path: String, hint: String?)
    /// A LoRA adapter that cannot run on the base model: its name and why.
    case invalidAdapter(name: String, String)

    public var description: String {
        switch self {
        case .gguf(let e): e.description
        case .tensor(let e): e.description
        case .unknownArchitecture(let a, let known):
            "unknown architecture '\(a)'; known: \(known.joined(separator: ", "))"
        case .missingTensor(let name): "the model has no tensor '\(name)'"
        case .invalidConfiguration(let why): "invalid model configuration: \(why)"
        case .unsupportedTokenizer(let m):
            "unsupported tokenizer model '\(m)'; Colony supports BPE ('gpt2', 'gemma4') and SentencePiece ('llama'), not yet WordPiece ('bert') or Unigram ('t5')"
        case .unknownPreTokenizer(let p, let known):
            "unknown pre-tokenizer '\(p)'; known: \(known.joined(separator: ", "))"
        case .invalidTokenizer(let why): "invalid tokenizer: \(why)"
        case .unknownChatTemplate(let name, let known):
            "unknown chat template '\(name)'; known: \(known.joined(separator: ", ")) (choose one with --chat-template)"
        case .noChatTemplate:
            "the model has no chat template; pass --chat-template (chatml, llama3, gemma) or --raw"
        case .invalidChatTemplate(let name, let why): "chat template '\(name)': \(why)"
        case .chatTemplateRaised(let message): "the chat template refused the conversation: \(message)"
        case .invalidMessages(let why): "invalid messages: \(why)"
        case .invalidBatch(let why): "invalid batch: \(why)"
        case .tokenOutOfRange(let t, let n): "token id \(t) is outside the vocabulary 0..<\(n)"
        case .contextFull(let seq, let needed, let capacity):
            "sequence \(seq) needs \(needed) positions but the context holds \(capacity)"
        case .blockTableTooShort(let sequence, let positions, let blocks, let blockSize):
            "sequence \(sequence) writes \(positions) positions but its block table holds \(blocks) blocks of \(blockSize)"
        case .modelNotFound(let path, let hint): "model file '\(path)' not found" + (hint.map { "; \($0)" } ?? "")
        case .invalidSampling(let why): "invalid sampling parameters: \(why)"
        case .invalidAdapter(let name, let why): "LoRA adapter '\(name)' does not fit the base model: \(why)"
        }
    }
}

extension ModelError {
    /// Runs `body`, which reads GGUF metadata and may throw GGUF or model errors, and
    /// reports either as a `ModelError`.
    static func catching<T>(_ body: () throws -> T) throws(ModelError) -> T {
        do {
            return try body()
        } catch let error as GGUFError {
            throw .gguf(error)
        } catch let error as ModelError {
            throw error
        } catch {
            throw .invalidConfiguration(String(describing: error))
        }
    }
}
