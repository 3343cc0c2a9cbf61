import ColonyJinja
import ColonyModels
import Foundation

/// A backend and the chat template of its model: runs a `ChatCompletion` — renders the
/// prompt with the tool block, submits it with the constraint and the end-of-turn stop, and
/// reads a tool call out of the reply.
///
/// ```swift
/// let chat = ChatModel(backend: engine, template: template)
/// let reply = try await chat.complete(try ChatCompletion(messages: messages), maxTokens: 64)
/// ```
public struct ChatModel: Sendable {
    public let backend: any InferenceBackend
    public let template: ChatTemplate

    public init(backend: any InferenceBackend, template: ChatTemplate) {
        self.backend = backend
        self.template = template
    }

    /// The prompt's tokens: the template over the messages and tools, which a template with
    /// tool syntax lays out itself (else they are described in the system message).
    public func promptTokens(_ chat: ChatCompletion) throws(ModelError) -> [Int] {
        template.encode(try promptText(chat), tokenizer: backend.tokenizer)
    }

    /// The prompt's text, as the template renders it; a forced call starts there in the
    /// family's own format (`ToolCallFormat.callOpener`).
    public func promptText(_ chat: ChatCompletion) throws(ModelError) -> String {
        let extra = JinjaObject(chat.templateArguments.sorted { $0.key < $1.key }.map { ($0.key, $0.value.jinja) })
        guard template.rendersTools else { return try template.render(chat.promptMessages, extra: extra) }
        let text = try template.render(chat.messages, tools: chat.tools.isEmpty ? nil : chat.tools.map(\.jinja), extra: extra)
        return chat.forcesToolCall ? text + chat.toolFormat.callOpener : text
    }

    /// The stop strings a chat request needs besides the caller's: the template's end of turn.
    public var stopStrings: [String] { [template.endOfTurn] }

    /// The engine request for `chat`: its prompt tokens, constraint and stop strings.
    public func request(
        _ chat: ChatCompletion, id: String = UUID().uuidString, sampling: SamplingParameters = .greedy,
        maxTokens: Int, stop: [String] = []
    ) throws(ModelError) -> EngineRequest {
        EngineRequest(
            id: id, promptTokens: try promptTokens(chat), sampling: sampling, maxTokens: maxTokens,
            stopStrings: stop + stopStrings, constraint: chat.constraint)
    }

    /// A finished reply: the text (empty when it was a tool call), the call, and why it ended.
    public struct Reply: Sendable, Equatable {
        public var text: String
        public var toolCall: ChatToolCall?
        public var finishReason: FinishReason
        public var usage: Usage
    }

    /// Runs `chat` to the end and parses the reply.
    /// - Throws: `EngineError` when the backend refuses it, or the stream's transport error.
    public func complete(
        _ chat: ChatCompletion, sampling: SamplingParameters = .greedy, maxTokens: Int, priority: Int = 0, adapter: LoRAWeights? = nil
    ) async throws -> Reply {
        var request = try request(chat, sampling: sampling, maxTokens: maxTokens)
        request.priority = priority
        request.adapter = adapter
        let stream = try await backend.submit(request)
        let collected = try await CollectedReply.collect(stream, promptTokens: request.promptTokens.count)
        let (text, reason, usage) = (collected.text, collected.finishReason, collected.usage)
        let call = chat.toolCall(in: text)
        return Reply(text: call == nil ? text : "", toolCall: call, finishReason: reason, usage: usage)
    }
}
