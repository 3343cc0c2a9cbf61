import ColonyModels
import Testing

@Suite("Llama forward pass against the numpy reference")
struct LlamaForwardTests {
    static let fixture = try! Fixtures.load("tiny-forward.json", as: Fixtures.TinyForward.self)

    static func maxError(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    @Test("whole-sequence batch matches reference logits", arguments: ActivationPrecision.allCases)
    func batchLogits(precision: ActivationPrecision) throws {
        for model in Self.fixture.models {
            let llama = try LlamaModel(gguf: try GGUFFile(contentsOf: Fixtures.path(model.file)), threads: 2)
            llama.precision = precision
            for c in model.cases {
                let cache = KVCache(config: llama.config, positions: 64)
                let batch = c.tokens.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: true) }
                let logits = try llama.forward(batch, cache: cache)
                #expect(logits.count == c.tokens.count)
                let tolerance: Float = switch precision {
                case .float32: 1e-4
                case .int16: 2e-3
                case .int8: 0.2
                }
                for (got, want) in zip(logits, c.logits) {
                    #expect(Self.maxError(got, want) < tolerance, "\(model.file) \(precision) tokens \(c.tokens)")
                }
            }
        }
    }

    @Test("token-by-token decode equals the batch and greedy equals the reference")
    func greedyDecode() throws {
        for model in Self.fixture.models {
            let llama = try LlamaModel(gguf: try GGUFFile(contentsOf: Fixtures.path(model.file)), threads: 1)
            llama.precision = .float32
            for c in model.cases {
                let cache = KVCache(config: llama.config, positions: 64, blockSize: 4)
                var last: [Float] = []
                for (p, t) in c.tokens.enumerated() {
                    last = try llama.forward([BatchToken(token: t, position: p, wantsLogits: true)], cache: cache)[0]
                    #expect(Self.maxError(last, c.logits[p]) < 1e-4)
                }
                var generated: [Int] = []
                for step in 0..<c.greedy.count {
                    let next = last.indices.max { last[$0] < last[$1] }!
                    generated.append(next)
                    last = try llama.forward([BatchToken(token: next, position: c.tokens.count + step, wantsLogits: true)], cache: cache)[0]
                }
                #expect(generated == c.greedy, "\(model.file) from \(c.tokens)")
            }
        }
    }

    @Test("several sequences in one flat batch give each its own logits")
    func multiSequenceBatch() throws {
        let model = Self.fixture.models[0]
        let llama = try LlamaModel(gguf: try GGUFFile(contentsOf: Fixtures.path(model.file)), threads: 2)
        llama.precision = .float32
        let cache = KVCache(config: llama.config, positions: 128, blockSize: 4)
        var batch: [BatchToken] = []
        // Interleave the cases' tokens so sequences share every step of the batch.
        let longest = model.cases.map(\.tokens.count).max()!
        for p in 0..<longest {
            for (s, c) in model.cases.enumerated() where p < c.tokens.count {
                batch.append(BatchToken(token: c.tokens[p], position: p, sequence: s, wantsLogits: true))
            }
        }
        let logits = try llama.forward(batch, cache: cache)
        for (b, got) in zip(batch.filter(\.wantsLogits), logits) {
            #expect(Self.maxError(got, model.cases[b.sequence].logits[b.position]) < 1e-4)
        }
    }

    @Test("invalid batches are refused without touching the cache")
    func invalidBatches() throws {
        let llama = try LlamaModel(gguf: try GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf")))
        let cache = KVCache(config: llama.config, positions: 32, blockSize: 4)
        #expect(throws: ModelError.tokenOutOfRange(320, vocabularySize: 320)) {
            try llama.forward([BatchToken(token: 320, position: 0)], cache: cache)
        }
        #expect(throws: ModelError.invalidBatch("sequence 0 starts at position 3 but has only 0 cached")) {
            try llama.forward([BatchToken(token: 5, position: 3)], cache: cache)
        }
        #expect(throws: ModelError.invalidBatch("sequence 0 jumps from position 0 to 2; positions must be consecutive")) {
            try llama.forward([BatchToken(token: 5, position: 0), BatchToken(token: 5, position: 2)], cache: cache)
        }
        #expect(throws: ModelError.outOfKVBlocks(needed: 9, free: 8)) {
            try llama.forward((0..<33).map { BatchToken(token: 5, position: $0) }, cache: cache)
        }
        #expect(cache.freeBlockCount == 8)
        #expect(cache.length(of: 0) == 0)
    }
}
