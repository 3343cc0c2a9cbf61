import Foundation

/// The body of `POST /v1/completions`.
public struct CompletionRequest: Codable, Sendable, Equatable {
    public var options: CompletionOptions
    public var prompt: Prompt

    enum CodingKeys: String, CodingKey { case prompt }

    public init(options: CompletionOptions, prompt: Prompt) {
        self.options = options
        self.prompt = prompt
    }

    public init(from decoder: Decoder) throws {
        options = try CompletionOptions(from: decoder)
        prompt = try decoder.container(keyedBy: CodingKeys.self).decode(Prompt.self, forKey: .prompt)
    }

    public func encode(to encoder: Encoder) throws {
        try options.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prompt, forKey: .prompt)
    }

    /// `prompt`: a string, a list of one string, or a list of token ids.
    public enum Prompt: Codable, Sendable, Equatable {
        case text(String)
        case tokens([Int])

        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                self = .text(s)
                return
            }
            if let ids = try? c.decode([Int].self) {
                self = .tokens(ids)
                return
            }
            let list = try c.decode([String].self)
            guard list.count == 1 else {
                throw DecodingError.dataCorruptedError(
                    in: c, debugDescription: "exactly one prompt per request is supported, got \(list.count)")
            }
            self = .text(list[0])
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let s): try c.encode(s)
            case .tokens(let ids): try c.encode(ids)
            }
        }
    }
}
