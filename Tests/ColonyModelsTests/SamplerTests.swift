import ColonyModels
import Foundation
import Testing

@Suite("Sampler")
struct SamplerTests {
    static let logits: [Float] = [1, 3, 2.5, -1, 0, 2.9, 0.5, 1.5]

    static func params(_ edit: (inout SamplingParameters) -> Void) -> SamplingParameters {
        var p = SamplingParameters()
        edit(&p)
        return p
    }

    @Test("temperature 0 and top-k 1 are greedy")
    func greedy() throws {
        var s = try Sampler(.greedy)
        #expect(s.sample(Self.logits, history: []) == 1)
        var k1 = try Sampler(
            Self.params {
                $0.topK = 1
                $0.temperature = 5
            })
        for _ in 0..<20 { #expect(k1.sample(Self.logits, history: []) == 1) }
    }

    @Test("the same seed gives the same tokens, another seed other tokens")
    func seeded() throws {
        func draw(_ seed: UInt64) throws -> [Int] {
            var s = try Sampler(
                Self.params {
                    $0.seed = seed
                    $0.temperature = 1.5
                    $0.topK = 0
                    $0.minP = 0
                    $0.topP = 1
                })
            return (0..<64).map { _ in s.sample(Self.logits, history: []) }
        }
        #expect(try draw(42) == draw(42))
        #expect(try draw(42) != draw(43))
    }

    @Test("top-p, top-k and min-p keep only the allowed tokens")
    func filters() throws {
        // top-k 3 → only ids 1, 5, 2 can appear.
        var k = try Sampler(
            Self.params {
                $0.topK = 3
                $0.temperature = 2
                $0.minP = 0
                $0.topP = 1
            })
        let ks = Set((0..<300).map { _ in k.sample(Self.logits, history: []) })
        #expect(ks == [1, 5, 2])
        // min-p 0.9: p(5)/p(1) = e^-0.1 ≈ 0.905 stays, p(2)/p(1) = e^-0.5 goes.
        var m = try Sampler(
            Self.params {
                $0.minP = 0.9
                $0.topK = 0
                $0.topP = 1
                $0.temperature = 1
            })
        #expect(Set((0..<300).map { _ in m.sample(Self.logits, history: []) }) == [1, 5])
        // top-p 0.3: the top token alone has p ≈ 0.33 ≥ 0.3.
        var p = try Sampler(
            Self.params {
                $0.topP = 0.3
                $0.topK = 0
                $0.minP = 0
                $0.temperature = 1
            })
        #expect(Set((0..<100).map { _ in p.sample(Self.logits, history: []) }) == [1])
    }

    @Test("frequencies follow the softmax")
    func distribution() throws {
        let logits: [Float] = [0, Float(log(3.0))]  // p = 1/4, 3/4
        var s = try Sampler(
            Self.params {
                $0.temperature = 1
                $0.topK = 0
                $0.topP = 1
                $0.minP = 0
                $0.seed = 7
            })
        let ones = (0..<4000).filter { _ in s.sample(logits, history: []) == 1 }.count
        #expect(abs(Double(ones) / 4000 - 0.75) < 0.03)
    }

    @Test("penalties lower the logits of recent tokens")
    func penalties() throws {
        var rep = try Sampler(
            Self.params {
                $0.temperature = 0
                $0.repetitionPenalty = 2
            })
        #expect(rep.sample(Self.logits, history: [1]) == 5)  // 3/2 = 1.5 < 2.9
        var presence = try Sampler(
            Self.params {
                $0.temperature = 0
                $0.presencePenalty = 0.05
            })
        #expect(presence.sample(Self.logits, history: [1, 1, 1]) == 1)  // 2.95 > 2.9
        var frequency = try Sampler(
            Self.params {
                $0.temperature = 0
                $0.frequencyPenalty = 0.05
            })
        #expect(frequency.sample(Self.logits, history: [1, 1, 1]) == 5)  // 3 - 0.15 < 2.9
        var windowed = try Sampler(
            Self.params {
                $0.temperature = 0
                $0.repetitionPenalty = 2
                $0.penaltyWindow = 1
            })
        #expect(windowed.sample(Self.logits, history: [1, 0]) == 1)  // 1 is outside the window
    }

    @Test(
        "invalid parameters name the field",
        arguments: [
            (params { $0.temperature = -1 }, "invalid sampling parameters: temperature must be ≥ 0, got -1.0"),
            (params { $0.topP = 0 }, "invalid sampling parameters: top-p must be in (0, 1], got 0.0"),
            (params { $0.topK = -2 }, "invalid sampling parameters: top-k must be ≥ 0 (0 disables it), got -2"),
            (params { $0.minP = 1.5 }, "invalid sampling parameters: min-p must be in [0, 1], got 1.5"),
            (params { $0.repetitionPenalty = 0 }, "invalid sampling parameters: repetition penalty must be > 0, got 0.0"),
        ])
    func invalid(parameters: SamplingParameters, message: String) {
        let error = #expect(throws: ModelError.self) { try Sampler(parameters) }
        #expect(error?.description == message)
    }
}

@Suite("Stop strings")
struct StopMatcherTests {
    @Test("a stop string split across pieces is never shown")
    func split() {
        var m = StopMatcher(stops: ["<|im_end|>", "STOP"])
        var shown = ""
        var stopped = false
        for piece in ["Hello", " wor", "ld<|im", "_e", "nd|> after"] {
            let r = m.append(piece)
            shown += r.text
            if r.stopped {
                stopped = true
                break
            }
        }
        #expect(stopped)
        #expect(shown == "Hello world")
    }

    @Test("a held-back prefix that does not complete is released")
    func released() {
        var m = StopMatcher(stops: ["STOP"])
        #expect(m.append("ST") == ("", false))
        #expect(m.append("ar") == ("STar", false))
        #expect(m.append("S") == ("", false))
        #expect(m.flush() == "S")
    }
}
