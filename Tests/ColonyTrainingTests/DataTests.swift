import ColonyModels
import Foundation
import Testing

@testable import ColonyTraining

@Suite("Training data")
struct DataTests {
    static let gguf = try! GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-tied.gguf"))
    static let tokenizer = try! Tokenizer(gguf: gguf)
    static let template = try! ChatTemplate(gguf: gguf)

    static func write(_ lines: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("colony-data-\(UUID().uuidString).jsonl").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("only assistant turns are trained, exactly their text and end of turn")
    func assistantMask() throws {
        let path = try Self.write([
            #"{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}, {"role": "user", "content": "and?"}, {"role": "assistant", "content": "bye"}]}"#
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let data = try ChatDataset(path: path, tokenizer: Self.tokenizer, template: Self.template, maxLength: 512)
        let example = try #require(data.examples.first)
        let trained = zip(example.tokens, example.trained).filter(\.1).map { Int($0.0) }
        let end = Self.template.endOfTurn
        #expect(Self.tokenizer.decode(trained).contains("hello there" + end))
        #expect(Self.tokenizer.decode(trained).contains("bye" + end))
        #expect(!Self.tokenizer.decode(trained).contains("hi"))
        // The pieces encode to the same tokens as the whole conversation.
        let whole = Self.tokenizer.encode(
            try Self.template.render(
                [
                    ChatMessage(role: "user", content: "hi"), ChatMessage(role: "assistant", content: "hello there"),
                    ChatMessage(role: "user", content: "and?"), ChatMessage(role: "assistant", content: "bye"),
                ],
                addGenerationPrompt: false))
        #expect(example.tokens.map(Int.init) == whole)
    }

    @Test("a trajectory's tools are described in the system prompt as the agent's model saw them")
    func trajectoryTools() throws {
        let line =
            #"{"messages": [{"role": "system", "content": "Solve it."}, {"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}], "tools": [{"name": "calculator", "description": "Add.", "parameters": "{\"type\":\"object\"}"}]}"#
        let path = try Self.write([
            line, #"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "tools": [{"name": 3}]}"#,
        ])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: TrainingError.self) {
            try ChatDataset(path: path, tokenizer: Self.tokenizer, template: Self.template, maxLength: 512)
        }
        #expect(error?.description.contains(":2: tools[0] must be") == true)
        let good = try Self.write([line])
        defer { try? FileManager.default.removeItem(atPath: good) }
        let example = try #require(
            try ChatDataset(path: good, tokenizer: Self.tokenizer, template: Self.template, maxLength: 512).examples.first)
        let expected = ToolPrompt.apply(
            [("calculator", "Add.", #"{"type":"object"}"#)],
            to: [
                ChatMessage(role: "system", content: "Solve it."), ChatMessage(role: "user", content: "1+1?"),
                ChatMessage(role: "assistant", content: "2"),
            ])
        #expect(expected[0].content.hasPrefix("Solve it.\n\nTools:\n- calculator: Add. parameters {\"type\":\"object\"}"))
        #expect(example.tokens.map(Int.init) == Self.tokenizer.encode(try Self.template.render(expected, addGenerationPrompt: false)))
    }

    @Test("rewards filter trajectories; a file of only filtered lines is an error")
    func rewardFilter() throws {
        let good = #"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "reward": 1}"#
        let bad = #"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}], "reward": 0, "run_id": "x"}"#
        let path = try Self.write([good, bad, "", bad])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let data = try ChatDataset(path: path, tokenizer: Self.tokenizer, template: Self.template, maxLength: 512, minReward: 0.5)
        #expect(data.examples.count == 1 && data.skippedForReward == 2)
        let onlyBad = try Self.write([bad])
        defer { try? FileManager.default.removeItem(atPath: onlyBad) }
        #expect(throws: TrainingError.self) {
            try ChatDataset(path: onlyBad, tokenizer: Self.tokenizer, template: Self.template, maxLength: 512, minReward: 0.5)
        }
    }

    @Test("packing keeps documents apart, restarts positions and is reproducible from a saved position")
    func packing() {
        // Example i holds tokens 10·i+1 … 10·i+3+i; token 0 is padding.
        let examples = (0..<5).map { i in
            TrainingExample(tokens: (0..<(3 + i)).map { Int32(10 * i + $0 + 1) }, trained: [Bool](repeating: true, count: 3 + i))
        }
        var loader = BatchLoader(examples: examples, batchSize: 2, length: 10, seed: 3)
        let first = loader.next()
        for t in 0..<first.tokens.count {
            let start = Int(first.segmentStart[t])
            let row = t % 10
            if first.tokens[t] == 0 {
                #expect(start == row && first.targets[t] == -1, "padding attends to itself and takes no loss")
            } else {
                #expect(first.positions[t] == row - start, "positions restart at each document")
                #expect((first.tokens[t] - 1) % 10 == Int32(first.positions[t]))
            }
            // A target is the next token of the same document.
            if first.targets[t] >= 0 {
                #expect(first.targets[t] == first.tokens[t + 1] && first.segmentStart[t + 1] == first.segmentStart[t])
            }
        }
        let saved = loader.position
        let a = (0..<4).map { _ in loader.next() }
        var resumed = BatchLoader(examples: examples, batchSize: 2, length: 10, seed: 3)
        resumed.position = saved
        #expect((0..<4).map { _ in resumed.next() } == a)
        // Every example appears exactly once per epoch.
        var counter = BatchLoader(examples: examples, batchSize: 1, length: 10, seed: 3)
        var firsts: [Int32] = []
        while counter.position.epoch == 0 { firsts += counter.next().tokens.filter { $0 % 10 == 1 } }
        #expect(firsts.sorted() == [1, 11, 21, 31, 41])
    }
}
