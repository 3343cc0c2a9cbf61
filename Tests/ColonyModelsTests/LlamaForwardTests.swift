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
                let cache = KVCache(config: llama.config, positions: 64, type: .f32)
                var table = cache.wholeTable()
                let batch = c.tokens.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: true) }
                let logits = try llama.forward(batch, cache: cache, table: &table)
                #expect(logits.count == c.tokens.count)
                let tolerance: Float =
                    switch precision {
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
                let cache = KVCache(config: llama.config, positions: 64, blockSize: 4, type: .f32)
                // Blocks in reverse order: positions must follow the table, not the memory layout.
                var table = BlockTable(blocks: cache.wholeTable().blocks.reversed())
                var last: [Float] = []
                for (p, t) in c.tokens.enumerated() {
                    last = try llama.forward([BatchToken(token: t, position: p, wantsLogits: true)], cache: cache, table: &table)[0]
                    #expect(Self.maxError(last, c.logits[p]) < 1e-4)
                }
                var generated: [Int] = []
                for step in 0..<c.greedy.count {
                    let next = last.indices.max { last[$0] < last[$1] }!
                    generated.append(next)
                    last = try llama.forward(
                        [BatchToken(token: next, position: c.tokens.count + step, wantsLogits: true)], cache: cache, table: &table)[0]
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
        let cache = KVCache(config: llama.config, positions: 128, blockSize: 4, type: .f32)
        var batch: [BatchToken] = []
        // Interleave the cases' tokens so sequences share every step of the batch.
        let longest = model.cases.map(\.tokens.count).max()!
        for p in 0..<longest {
            for (s, c) in model.cases.enumerated() where p < c.tokens.count {
                batch.append(BatchToken(token: c.tokens[p], position: p, sequence: s, wantsLogits: true))
            }
        }
        // Each sequence gets every n-th block, so their blocks interleave in memory.
        let n = model.cases.count
        var tables: [Int: BlockTable] = [:]
        for s in 0..<n { tables[s] = BlockTable(blocks: stride(from: Int32(s), to: Int32(cache.blockCount), by: n).map { $0 }) }
        let logits = try llama.forward(batch, cache: cache, tables: &tables)
        for (s, c) in model.cases.enumerated() { #expect(tables[s]!.length == c.tokens.count) }
        for (b, got) in zip(batch.filter(\.wantsLogits), logits) {
            #expect(Self.maxError(got, model.cases[b.sequence].logits[b.position]) < 1e-4)
        }
    }

    @Test("invalid batches are refused without touching the cache")
    func invalidBatches() throws {
        let llama = try LlamaModel(gguf: try GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf")))
        let cache = KVCache(config: llama.config, positions: 32, blockSize: 4, type: .f32)
        var table = cache.wholeTable()
        #expect(throws: ModelError.tokenOutOfRange(320, vocabularySize: 320)) {
            try llama.forward([BatchToken(token: 320, position: 0)], cache: cache, table: &table)
        }
        #expect(throws: ModelError.invalidBatch("sequence 0 starts at position 3 but has only 0 cached")) {
            try llama.forward([BatchToken(token: 5, position: 3)], cache: cache, table: &table)
        }
        #expect(throws: ModelError.invalidBatch("sequence 0 jumps from position 0 to 2; positions must be consecutive")) {
            try llama.forward([BatchToken(token: 5, position: 0), BatchToken(token: 5, position: 2)], cache: cache, table: &table)
        }
        #expect(throws: ModelError.blockTableTooShort(sequence: 0, positions: 33, blocks: 8, blockSize: 4)) {
            try llama.forward((0..<33).map { BatchToken(token: 5, position: $0) }, cache: cache, table: &table)
        }
        var foreign = BlockTable(blocks: [0, 8])
        #expect(throws: ModelError.invalidBatch("sequence 0 names block 8; the cache has 8")) {
            try llama.forward((0..<5).map { BatchToken(token: 5, position: $0) }, cache: cache, table: &foreign)
        }
        var tables: [Int: BlockTable] = [:]
        #expect(throws: ModelError.invalidBatch("sequence 0 has no block table")) {
            try llama.forward([BatchToken(token: 5, position: 0)], cache: cache, tables: &tables)
        }
        #expect(table.length == 0, "a refused batch writes nothing")
    }
}
