import ColonyEngine
import ColonyModels
import ColonyRouting
import Foundation
import GRPCCore

// Conversions between the engine's types and the worker protocol's messages
// (Protos/worker.proto), kept in one place so both ends agree.

typealias WireRequest = Colony_Cluster_V1_GenerateRequest
typealias WireEvent = Colony_Cluster_V1_GenerateEvent
typealias WireStatus = Colony_Cluster_V1_WorkerStatus
typealias WireKVMessage = Colony_Cluster_V1_KVEventMessage

extension WireRequest {
    /// The request as the router sends it: stop strings stay with the router, which applies
    /// them to the text it detokenizes.
    init(_ r: EngineRequest) throws {
        self.init()
        id = r.id
        promptTokens = r.promptTokens.map(Int32.init)
        sampling = .with {
            $0.temperature = r.sampling.temperature
            $0.topK = Int32(r.sampling.topK)
            $0.topP = r.sampling.topP
            $0.minP = r.sampling.minP
            $0.repetitionPenalty = r.sampling.repetitionPenalty
            $0.presencePenalty = r.sampling.presencePenalty
            $0.frequencyPenalty = r.sampling.frequencyPenalty
            $0.penaltyWindow = Int32(r.sampling.penaltyWindow)
            $0.seed = r.sampling.seed
        }
        maxTokens = Int32(r.maxTokens)
        stopTokens = r.stopTokens.sorted().map(Int32.init)
        priority = Int32(r.priority)
        if let c = r.constraint { constraint = try JSONEncoder().encode(c) }
        minTokens = Int32(r.minTokens)
        ignoreEos = r.ignoreEOS
        if let salt = r.cacheSalt { cacheSalt = salt }
        resumedTokens = Int32(r.resumedTokens)
    }

    /// The engine request this message asks for.
    func engineRequest() throws(EngineError) -> EngineRequest {
        var s = SamplingParameters()
        s.temperature = sampling.temperature
        s.topK = Int(sampling.topK)
        s.topP = sampling.topP
        s.minP = sampling.minP
        s.repetitionPenalty = sampling.repetitionPenalty
        s.presencePenalty = sampling.presencePenalty
        s.frequencyPenalty = sampling.frequencyPenalty
        s.penaltyWindow = Int(sampling.penaltyWindow)
        s.seed = sampling.seed
        var decoded: OutputConstraint?
        if !constraint.isEmpty {
            do { decoded = try JSONDecoder().decode(OutputConstraint.self, from: constraint) } catch {
                throw .invalidRequest("the output constraint is not valid: \(error)")
            }
        }
        var r = EngineRequest(
            id: id, promptTokens: promptTokens.map(Int.init), sampling: s, maxTokens: Int(maxTokens),
            stopTokens: Set(stopTokens.map(Int.init)), priority: Int(priority), constraint: decoded,
            minTokens: Int(minTokens), ignoreEOS: ignoreEos, cacheSalt: hasCacheSalt ? cacheSalt : nil)
        r.resumedTokens = Int(resumedTokens)
        return r
    }
}

extension RPCError {
    /// An engine refusal as a gRPC status, so the router can rebuild the same `EngineError`.
    init(_ e: EngineError) {
        let code: RPCError.Code =
            switch e {
            case .queueFull: .resourceExhausted
            case .invalidRequest, .promptTooLong: .invalidArgument
            case .duplicateID: .alreadyExists
            case .shuttingDown, .unavailable: .unavailable
            }
        var metadata: Metadata = [:]
        if case .queueFull(let limit) = e { metadata.addString(String(limit), forKey: "colony-queue-limit") }
        self.init(code: code, message: e.description, metadata: metadata)
    }

    /// The engine refusal this status carries, when it is one.
    var engineError: EngineError? {
        switch code {
        case .resourceExhausted:
            .queueFull(limit: metadata[stringValues: "colony-queue-limit"].first(where: { _ in true }).flatMap { Int($0) } ?? 0)
        case .invalidArgument, .alreadyExists: .invalidRequest(message)
        default: nil
        }
    }
}

extension WireKVMessage {
    init(_ update: KVUpdate) {
        self.init()
        id = update.id
        switch update {
        case .dump(_, let hashes): dump = .with { $0.hashes = hashes.map(\.value) }
        case .event(_, .stored(let hashes, let parent, let blockSize)):
            stored = .with {
                $0.hashes = hashes.map(\.value)
                if let parent { $0.parent = parent.value }
                $0.blockSize = Int32(blockSize)
            }
        case .event(_, .removed(let hashes)): removed = .with { $0.hashes = hashes.map(\.value) }
        case .event(_, .cleared): cleared = .init()
        }
    }

    /// The update this message carries (nil for a message with no kind, from a newer worker).
    var update: KVUpdate? {
        switch kind {
        case .stored(let s):
            .event(
                id: id,
                .stored(
                    hashes: s.hashes.map(PrefixHash.init), parent: s.hasParent ? PrefixHash(value: s.parent) : nil,
                    blockSize: Int(s.blockSize)))
        case .removed(let r): .event(id: id, .removed(r.hashes.map(PrefixHash.init)))
        case .cleared: .event(id: id, .cleared)
        case .dump(let d): .dump(id: id, d.hashes.map(PrefixHash.init))
        case nil: nil
        }
    }
}
