import ColonyModels
import ColonyTensor
import Testing

/// Tiny random models of each family, made with Hugging Face `transformers` and written
/// to GGUF as llama.cpp's converter writes them (scripts/reference/make_arch_fixtures.py):
/// Colony's logits must match the `transformers` logits at every position.
@Suite("Model families against Hugging Face transformers")
struct ArchitectureTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let name: String
            let file: String
            let architecture: String
            let features: [String]
            let tokens: [Int]
            let logits: [[Float]]
            let f64MaxError: Float
        }
        let cases: [Case]
    }

    static let fixture = try! Fixtures.load("architectures/architectures.json", as: Fixture.self)

    static func maxError(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    static func model(_ c: Fixture.Case, threads: Int = 2) throws -> LlamaModel {
        let model = try LlamaModel(gguf: try GGUFFile(contentsOf: Fixtures.path("architectures/" + c.file)), threads: threads)
        model.precision = .float32
        return model
    }

    @Test("one batch over the prompt matches every position", arguments: fixture.cases.map(\.name))
    func batch(name: String) throws {
        let c = Self.fixture.cases.first { $0.name == name }!
        let model = try Self.model(c)
        #expect(model.config.architecture.rawValue == c.architecture)
        let cache = KVCache(config: model.config, positions: c.tokens.count, type: .f32)
        var table = cache.wholeTable()
        let logits = try model.forward(
            c.tokens.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: true) }, cache: cache, table: &table)
        for (p, (got, want)) in zip(logits, c.logits).enumerated() {
            #expect(Self.maxError(got, want) < 1e-3, "\(name) position \(p) (\(c.features.joined(separator: ", ")))")
        }
    }

    @Test("token-by-token decode over a paged cache matches too, with f32 and f16 KV", arguments: fixture.cases.map(\.name))
    func decode(name: String) throws {
        let c = Self.fixture.cases.first { $0.name == name }!
        let model = try Self.model(c, threads: 1)
        for type in KVCacheType.allCases {
            // Small blocks in reverse order: the window must follow the table, not memory.
            let cache = KVCache(config: model.config, positions: c.tokens.count, blockSize: 4, type: type)
            var table = BlockTable(blocks: cache.wholeTable().blocks.reversed())
            var worst: Float = 0
            var sameArgmax = true
            for (p, token) in c.tokens.enumerated() {
                let got = try model.forward([BatchToken(token: token, position: p, wantsLogits: true)], cache: cache, table: &table)[0]
                worst = max(worst, Self.maxError(got, c.logits[p]))
                // The greedy choice must stay wherever the reference's margin exceeds the tolerance.
                let want = c.logits[p].enumerated().sorted { $0.element > $1.element }
                if want[0].element - want[1].element > 0.05 {
                    sameArgmax = sameArgmax && got.indices.max { got[$0] < got[$1] } == want[0].offset
                }
            }
            // f16 rounds each key and value by ≤ 2^-11 relative: logits move by ~1e-3 of their size.
            #expect(worst < (type == .f32 ? 1e-3 : 2e-2), "\(name) \(type) KV: max error \(worst)")
            #expect(sameArgmax, "\(name) \(type) KV: the greedy choice changed")
        }
    }
}
