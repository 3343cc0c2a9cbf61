import Foundation

/// Mailboxes between agents: one-way messages, request/reply with correlation ids, and
/// broadcast. An agent that answers requests registers a handler; the bus runs it and
/// routes the reply back to the asker by correlation id.
public actor MessageBus {
    public struct Message: Sendable, Equatable {
        public var id: String
        public var from: String
        public var to: String
        public var content: String
        /// The request a reply answers.
        public var correlationID: String?
    }

    public typealias Handler = @Sendable (Message) async -> String

    private var handlers: [String: Handler] = [:]
    private var mailboxes: [String: [Message]] = [:]

    public init() {}

    /// Names of the agents on the bus.
    public var members: [String] { Array(Set(handlers.keys).union(mailboxes.keys)).sorted() }

    /// Puts `name` on the bus; with a handler it answers requests.
    public func register(_ name: String, handler: Handler? = nil) {
        if let handler { handlers[name] = handler }
        if mailboxes[name] == nil { mailboxes[name] = [] }
    }

    /// Leaves a message in `to`'s mailbox.
    @discardableResult
    public func send(from: String, to: String, content: String, correlationID: String? = nil) throws -> Message {
        guard mailboxes[to] != nil else { throw ToolError.noAgent(to, agents: members) }
        let m = Message(id: UUID().uuidString, from: from, to: to, content: content, correlationID: correlationID)
        mailboxes[to, default: []].append(m)
        return m
    }

    /// Sends a request and waits for the reply of `to`'s handler (the request and the
    /// reply both stay in the mailboxes, linked by the request's id).
    public func request(from: String, to: String, content: String) async throws -> Message {
        guard let handler = handlers[to] else { throw ToolError.takesNoRequests(to, agents: handlers.keys.sorted()) }
        let question = try send(from: from, to: to, content: content)
        let answer = await handler(question)  // the actor is free to route other messages meanwhile
        return try send(from: to, to: from, content: answer, correlationID: question.id)
    }

    /// Sends `content` to every other member.
    public func broadcast(from: String, content: String) throws -> [Message] {
        try members.filter { $0 != from }.map { try send(from: from, to: $0, content: content) }
    }

    /// Takes (and empties) `name`'s mailbox.
    public func drain(_ name: String) -> [Message] {
        defer { mailboxes[name] = [] }
        return mailboxes[name] ?? []
    }
}

/// Lets an agent delegate: asks another agent and returns its answer (request/reply).
public struct SendMessageTool: Tool {
    public let bus: MessageBus
    public let sender: String
    public let recipients: [String]
    public let name = "send_message"
    public let description = "Ask another agent to do part of the task and get its answer."
    public let isIdempotent = false

    /// `recipients` become the enum of the `to` parameter, so calls name a real agent.
    public init(bus: MessageBus, sender: String, recipients: [String]) {
        self.bus = bus
        self.sender = sender
        self.recipients = recipients
    }

    public var parametersJSON: String {
        let names = recipients.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"type":"object","properties":{"message":{"type":"string"},"to":{"enum":[\#(names)]}}}"#
    }

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable {
            let to: String
            let message: String
        }
        let a = try decodeArguments(Arguments.self, arguments, tool: name)
        return try await bus.request(from: sender, to: a.to, content: a.message).content
    }
}

extension MessageBus {
    /// Registers a worker agent: each request becomes a run of its own whose answer is the reply.
    public func register(worker agent: Agent) {
        register(agent.spec.name) { message in
            let run = try? await agent.run(task: message.content)
            return run?.answer ?? "no answer (\(run?.finish.rawValue ?? "failed"))"
        }
    }
}
