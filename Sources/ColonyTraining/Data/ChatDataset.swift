import ColonyModels
import Foundation

/// One tokenized conversation: its tokens and, per token, whether it is predicted
/// (assistant text and the end of its turn) and so counts towards the loss.
public struct TrainingExample: Sendable, Equatable {
    public var tokens: [Int32]
    public var trained: [Bool]

    public init(tokens: [Int32], trained: [Bool]) {
        precondition(tokens.count == trained.count, "one trained flag per token")
        self.tokens = tokens
        self.trained = trained
    }
}

/// A JSONL file of chat conversations, tokenized through the model's chat template.
///
/// Each line is an object with `"messages": [{"role", "content"}, …]`: plain chat data,
/// or a trajectory exported by `colony agents`. Of a trajectory's other fields, `"tools"`
/// (`[{"name", "description", "parameters"}]`) is described in the system prompt exactly as
/// the agent's model saw it (`ToolPrompt`), and `"reward"` can be filtered on with
/// `minReward`. The loss is taken only on assistant turns.
/// Every line is checked before any training starts; the first bad one is reported with
/// its line number.
public struct ChatDataset: Sendable {
    public let examples: [TrainingExample]
    /// Lines skipped because their reward was below `minReward`.
    public let skippedForReward: Int
    /// Examples cut to `maxLength` tokens.
    public let truncated: Int
    /// Examples left out because no assistant token remained within `maxLength`.
    public let tooLong: Int

    public init(path: String, tokenizer: Tokenizer, template: ChatTemplate, maxLength: Int, minReward: Double? = nil) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.invalidData("cannot read data file '\(path)'")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw TrainingError.invalidData("\(path) is not UTF-8 text") }
        var examples: [TrainingExample] = []
        var skipped = 0
        var truncated = 0
        var tooLong = 0
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            let location = "\(path):\(n + 1)"
            let (messages, reward) = try Self.parse(line, location: location)
            if let minReward, let reward, reward < minReward {
                skipped += 1
                continue
            }
            var example = try Self.tokenize(messages, tokenizer: tokenizer, template: template, location: location)
            if example.tokens.count > maxLength {
                example.tokens.removeLast(example.tokens.count - maxLength)
                example.trained.removeLast(example.trained.count - maxLength)
                guard example.trained.dropFirst().contains(true) else {
                    tooLong += 1
                    continue
                }
                truncated += 1
            }
            examples.append(example)
        }
        guard !examples.isEmpty else {
            var why: [String] = []
            if skipped > 0 { why.append("\(skipped) skipped for their reward") }
            if tooLong > 0 { why.append("\(tooLong) with no assistant token in the first \(maxLength) tokens: raise --seq-len") }
            throw TrainingError.invalidData(
                "\(path) holds no usable conversations" + (why.isEmpty ? "" : " (" + why.joined(separator: "; ") + ")"))
        }
        self.examples = examples
        skippedForReward = skipped
        self.truncated = truncated
        self.tooLong = tooLong
    }

    /// The messages of one line, and its reward if it has one.
    static func parse(_ line: Substring, location: String) throws -> ([ChatMessage], Double?) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        } catch {
            throw TrainingError.invalidData("\(location): not valid JSON")
        }
        guard let dict = object as? [String: Any] else {
            throw TrainingError.invalidData("\(location): expected a JSON object with \"messages\"")
        }
        guard let list = dict["messages"] as? [Any], !list.isEmpty else {
            throw TrainingError.invalidData("\(location): \"messages\" must be a non-empty array of {\"role\", \"content\"}")
        }
        var messages: [ChatMessage] = []
        for (i, item) in list.enumerated() {
            guard let m = item as? [String: Any], let role = m["role"] as? String, let content = m["content"] as? String else {
                throw TrainingError.invalidData("\(location): messages[\(i)] must be {\"role\": string, \"content\": string}")
            }
            guard ChatMessage.roles.contains(role) else {
                throw TrainingError.invalidData(
                    "\(location): messages[\(i)] has role '\(role)'; expected one of \(ChatMessage.roles.joined(separator: ", "))")
            }
            messages.append(ChatMessage(role: role, content: content))
        }
        guard messages.contains(where: { $0.role == "assistant" }) else {
            throw TrainingError.invalidData("\(location): no assistant message, so nothing to learn from")
        }
        var reward: Double?
        if let r = dict["reward"], !(r is NSNull) {
            guard let value = r as? Double else { throw TrainingError.invalidData("\(location): \"reward\" must be a number") }
            reward = value
        }
        var tools: [(name: String, description: String, parametersJSON: String)] = []
        if let t = dict["tools"], !(t is NSNull) {
            guard let list = t as? [Any] else { throw TrainingError.invalidData("\(location): \"tools\" must be an array") }
            for (i, item) in list.enumerated() {
                guard let tool = item as? [String: Any], let name = tool["name"] as? String, let parameters = tool["parameters"] as? String
                else {
                    throw TrainingError.invalidData(
                        "\(location): tools[\(i)] must be {\"name\": string, \"description\": string, \"parameters\": JSON Schema text}")
                }
                tools.append((name, tool["description"] as? String ?? "", parameters))
            }
        }
        return (ToolPrompt.apply(tools, to: messages), reward)
    }

    /// Renders the conversation and marks the tokens of assistant turns.
    ///
    /// The text is cut where each assistant turn starts and ends and each piece is encoded
    /// on its own, so the marked tokens are exactly the turn's (the template's turn
    /// markers are special tokens, so cutting there changes no merge).
    static func tokenize(_ messages: [ChatMessage], tokenizer: Tokenizer, template: ChatTemplate, location: String) throws
        -> TrainingExample
    {
        let full = try template.render(messages, addGenerationPrompt: false)
        var cuts: [(String.Index, Bool)] = []  // piece boundaries, and whether the piece ending there is trained
        for (i, m) in messages.enumerated() where m.role == "assistant" {
            let before = try template.render(Array(messages[..<i]), addGenerationPrompt: true)
            let through = try template.render(Array(messages[...i]), addGenerationPrompt: false)
            guard full.hasPrefix(before), full.hasPrefix(through), through.count >= before.count else {
                throw TrainingError.invalidData("\(location): the chat template does not render this conversation turn by turn")
            }
            cuts.append((full.index(full.startIndex, offsetBy: before.count), false))
            cuts.append((full.index(full.startIndex, offsetBy: through.count), true))
        }
        var tokens: [Int32] = []
        var trained: [Bool] = []
        if tokenizer.addBOS, let bos = tokenizer.bosToken {
            tokens.append(Int32(bos))
            trained.append(false)
        }
        var start = full.startIndex
        for (end, isTrained) in cuts + [(full.endIndex, false)] where end > start {
            let ids = tokenizer.encode(String(full[start..<end]), parseSpecial: true, addBOS: false)
            tokens += ids.map(Int32.init)
            trained += [Bool](repeating: isTrained, count: ids.count)
            start = end
        }
        return TrainingExample(tokens: tokens, trained: trained)
    }
}
