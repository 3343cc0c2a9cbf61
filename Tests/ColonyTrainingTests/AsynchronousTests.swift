import ColonyCollectives
import ColonyTensor
import Foundation
import Testing

@testable import ColonyTraining

/// numpy's answers for FP16 deltas (`scripts/reference/make_delta_fixtures.py`).
struct DeltaFixtures: Decodable {
    struct TopK: Decodable {
        var values: [Double]
        var fraction: Double
        var kept: [Int]
    }
    var inputs: [Double]
    var f16Bits: [UInt16]
    var topK: [TopK]

    enum CodingKeys: String, CodingKey {
        case inputs
        case f16Bits = "f16_bits"
        case topK = "top_k"
    }

    static func load() throws -> DeltaFixtures {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/fp16-deltas", withExtension: "json"))
        return try JSONDecoder().decode(DeltaFixtures.self, from: Data(contentsOf: url))
    }
}

/// Asynchronous runs of the tiny model: `workers` workers and one server, in process.
enum AsyncTraining {
    static func settings(steps: Int) -> TrainingConfiguration {
        var s = TinyTraining.settings(steps: steps, lr: 1e-2)
        s.batchSize = 1
        return s
    }

    /// The final model's eval loss, the initial one, the server's tallies and rank 0's reports.
    static func run(_ mode: AsynchronousConfiguration.Mode, steps: Int, codec: DeltaCodec = try! DeltaCodec()) throws
        -> (before: Float, after: Float, applied: Int, rejected: Int, reports: [StepReport])
    {
        let outcomes = try InProcessCollective.run(size: 3) { c in
            let asynchronous = try AsynchronousConfiguration(
                mode: mode, world: c, servers: 1, rule: StalenessRule(maxStaleness: 1), codec: codec, deltaEvery: 2, syncEvery: 6)
            let settings = settings(steps: steps)
            let loader = BatchLoader(examples: TinyTraining.examples(10), batchSize: 1, length: 16, seed: 1)
            let t = try Trainer(
                model: TrainableLlama(config: TinyTraining.config, seed: 7), config: settings, loader: loader,
                evalLoader: BatchLoader(examples: TinyTraining.examples(4), batchSize: 2, length: 16, seed: 2), asynchronous: asynchronous)
            if asynchronous.isServer {
                try ParameterServer(trainer: t, configuration: asynchronous).serve()
                return (Float.nan, Float.nan, 0, 0, [StepReport]())
            }
            let before = try t.evaluate()?.loss ?? .nan
            let reports = try (0..<steps).map { _ in try t.trainStep() }
            try t.gatherParameters()
            let after = try t.evaluate()?.loss ?? .nan
            return (before, after, t.exchangeTotals?.applied ?? 0, t.exchangeTotals?.rejected ?? 0, reports)
        }
        return outcomes[0]
    }
}

@Suite("Asynchronous training: parameter server, hybrid sync, FP16 deltas")
struct AsynchronousTests {
    @Test("FP16 deltas are bit-equal to numpy's float16 (ties to even, subnormals, overflow); top-k keeps numpy's choice")
    func fp16Deltas() throws {
        let fixtures = try DeltaFixtures.load()
        let inputs = fixtures.inputs.map { Float($0) }
        let dense = try DeltaCodec()
        let packed = dense.encode(inputs)
        #expect(packed.count == (inputs.count + 1) / 2, "two values per slot")
        #expect(DeltaCodec.unpack(packed[...], count: inputs.count) == fixtures.f16Bits)
        let decoded = try dense.decode(packed[...], count: inputs.count)
        #expect(decoded.map(\.bitPattern) == fixtures.f16Bits.map { HalfFloat.float(f16: $0).bitPattern })
        // An odd count leaves the last slot half empty.
        #expect(try dense.decode(dense.encode(Array(inputs.prefix(5)))[...], count: 5) == Array(decoded.prefix(5)))

        for case_ in fixtures.topK {
            let values = case_.values.map { Float($0) }
            let codec = try DeltaCodec(topK: case_.fraction)
            #expect(codec.selection(values) == case_.kept, "fraction \(case_.fraction)")
            let restored = try codec.decode(codec.encode(values)[...], count: values.count)
            for i in values.indices {
                let expected = case_.kept.contains(i) ? Float(Float16(values[i])) : 0
                #expect(restored[i] == expected, "value \(i)")
            }
        }
        #expect(throws: TrainingError.self) { try DeltaCodec(topK: 0) }
        #expect(throws: TrainingError.self) { try DeltaCodec(topK: 1.5) }
        #expect(throws: TrainingError.self) { try dense.decode(packed.dropLast(), count: inputs.count) }
    }

    @Test("staleness rule: fresh at full rate, stale damped by 1/(1+s), past the bound or from the future rejected")
    func stalenessRule() throws {
        let rule = try StalenessRule(maxStaleness: 2)
        #expect(rule.decide(current: 5, basedOn: 5) == .apply(scale: 1))
        #expect(rule.decide(current: 5, basedOn: 4) == .apply(scale: 0.5))
        #expect(rule.decide(current: 5, basedOn: 3) == .apply(scale: 1 / 3))
        #expect(rule.decide(current: 5, basedOn: 2) == .rejectStale(staleness: 3))
        #expect(rule.decide(current: 5, basedOn: 7) == .rejectConflict(ahead: 2))
        #expect(throws: TrainingError.self) { try StalenessRule(maxStaleness: -1) }
    }

    @Test("a server applies, damps and rejects by version; every update is answered and counted, rejected ones change nothing")
    func versionConflicts() throws {
        let outcomes = try InProcessCollective.run(size: 3) { c -> [String] in
            let asynchronous = try AsynchronousConfiguration(mode: .ps, world: c, servers: 1, rule: StalenessRule(maxStaleness: 1))
            let t = try TinyTraining.trainer(TinyTraining.settings())
            if asynchronous.isServer {
                let report = try ParameterServer(trainer: t, configuration: asynchronous).serve()
                return [
                    "server: version \(report.version) applied \(report.applied) stale \(report.rejectedStale) conflict \(report.rejectedConflict)"
                ]
            }
            guard c.rank == 0 else {
                try c.send(ExchangeMessage.done.encoded, count: 4, to: 2)
                return []
            }
            let n = t.flatParameters.count
            let gradient = (0..<n).map { Float($0 % 7) * 1e-3 }
            var log: [String] = []
            var last = t.flatParameters
            for basedOn in [0, 0, 0, 7] {  // fresh, 1 stale, 2 stale, from the future
                let message = ExchangeMessage.gradient(basedOn: basedOn, values: gradient).encoded
                try c.send(message, count: message.count, to: 2)
                guard case .parameters(let version, let applied, let values) = try ExchangeMessage(c.receiveFromAny().values) else {
                    return ["bad reply"]
                }
                log.append("v\(version) \(applied ? "applied" : "rejected") \(values == last ? "same" : "moved")")
                last = values
            }
            try c.send(ExchangeMessage.done.encoded, count: 4, to: 2)
            guard case .final(let version, let applied, let rejected, let values) = try ExchangeMessage(c.receiveFromAny().values) else {
                return ["no final"]
            }
            log.append("final v\(version) applied \(applied) rejected \(rejected) \(values == last ? "same" : "moved")")
            return log
        }
        #expect(
            outcomes[0] == [
                "v1 applied moved", "v2 applied moved", "v2 rejected same", "v2 rejected same", "final v2 applied 2 rejected 2 same",
            ])
        #expect(outcomes[2] == ["server: version 2 applied 2 stale 1 conflict 1"])
    }

    @Test("asynchronous SGD on a parameter server converges on the tiny model; every update is applied or counted as rejected")
    func parameterServerConverges() throws {
        let steps = 24
        let run = try AsyncTraining.run(.ps, steps: steps)
        #expect(run.after < run.before * 0.7, "eval loss \(run.before) → \(run.after)")
        #expect(run.applied + run.rejected == 2 * steps, "two workers' updates, none lost")
        #expect(run.reports.last!.exchange!.rejected <= run.rejected)
    }

    @Test("hybrid sync with FP16 deltas (dense and top-k) converges; a delta is half the bytes of the f32 sync", arguments: [nil, 0.25])
    func hybridConverges(topK: Double?) throws {
        let run = try AsyncTraining.run(.hybrid, steps: 24, codec: try DeltaCodec(topK: topK))
        #expect(run.after < run.before * 0.7, "eval loss \(run.before) → \(run.after)")
        let bytes = run.reports.map { $0.exchange!.bytesSent }
        // Steps 2, 4, 8, … exchange deltas; 6, 12, 18, 24 synchronise; odd steps send nothing.
        #expect(bytes[0] == 0 && bytes[2] == 0)
        let (delta, sync) = (bytes[1], bytes[5])
        if topK == nil {
            #expect(abs(Double(delta) / Double(sync) - 0.5) < 0.01, "delta \(delta) B, sync \(sync) B")
        } else {
            #expect(abs(Double(delta) / Double(sync) - 0.25 * 1.5) < 0.01, "top-k: 6 bytes per kept value: \(delta) B vs \(sync) B")
        }
    }
}
