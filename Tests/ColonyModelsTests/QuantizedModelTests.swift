import ColonyModels
import ColonyTensor
import Foundation
import Testing

/// The default model requantized by llama.cpp's own `llama-quantize` (scripts/fetch-quantized)
/// against the numpy reference, which dequantises every weight with gguf-py
/// (scripts/reference/make_quant_greedy.py).
@Suite(
    "Q5 and K-quant files of the real model against the numpy reference",
    .enabled(if: QuantFiles.available, "needs the quantized models: run ./scripts/fetch-quantized"))
struct QuantizedModelTests {
    typealias Fixture = QuantFiles.Fixture
    static let fixture = QuantFiles.fixture
    static func path(_ c: Fixture.Case) -> String { QuantFiles.path(c) }

    @Test("the files hold the K-quant and Q5 types, and every fixture type is covered")
    func types() throws {
        let seen = Set(Self.fixture.cases.flatMap(\.tensorTypes))
        for type in ["Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"] { #expect(seen.contains(type), "no file holds \(type)") }
        for c in Self.fixture.cases {
            let file = try GGUFFile(contentsOf: Self.path(c))
            #expect(Set(file.tensors.map(\.dtype.description)) == Set(c.tensorTypes), "\(c.file) is not the file the fixture was made from")
        }
    }

    @Test(
        "greedy decoding equals the reference: float32 on every step, integer until the first near-tie",
        arguments: fixture.cases.map(\.quant), [ActivationPrecision.float32, .int16])
    func greedy(quant: String, precision: ActivationPrecision) throws {
        let c = Self.fixture.cases.first { $0.quant == quant }!
        let model = try LlamaModel(gguf: try GGUFFile(contentsOf: Self.path(c)), threads: 2)
        model.precision = precision
        // The first step's logits: the forward pass itself, before any choice.
        let cache = KVCache(config: model.config, positions: c.promptIds.count, type: .f32)
        var table = cache.wholeTable()
        let logits = try model.forward(
            c.promptIds.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: $0 == c.promptIds.count - 1) },
            cache: cache, table: &table)[0]
        let logitError: Float = precision == .float32 ? 1e-3 : 5e-3
        for pair in c.firstTop10 {
            #expect(abs(Double(logits[Int(pair[0])]) - pair[1]) < Double(logitError) * 4, "\(quant) \(precision) token \(Int(pair[0]))")
        }
        let safe = c.margins.firstIndex { $0 < logitError } ?? c.margins.count
        let got = try RealModelTests.greedyTokens(model, c.promptIds, count: max(safe, 1))
        #expect(Array(got.prefix(safe)) == Array(c.generatedIds.prefix(safe)), "\(quant) \(precision): agreed for \(safe) steps")
        if precision == .float32 { #expect(safe >= 12, "\(quant): the reference has a near-tie at step \(safe)") }
    }
}

/// The fixture of `QuantizedModelTests` and where its files live.
enum QuantFiles {
    struct Fixture: Decodable {
        struct Case: Decodable {
            let quant: String
            let file: String
            let tensorTypes: [String]
            let promptIds: [Int]
            let generatedIds: [Int]
            let margins: [Float]
            let firstTop10: [[Double]]
        }
        let cases: [Case]
    }

    static let fixture = try! Fixtures.load("greedy-quants.json", as: Fixture.self)
    static func path(_ c: Fixture.Case) -> String { "models/" + c.file }
    static var available: Bool { fixture.cases.allSatisfy { FileManager.default.fileExists(atPath: path($0)) } }
}
