import ColonyModels
import Foundation
import Testing

@testable import ColonyAgents

@Suite("Learning: generated tasks and stored attempts")
struct LearningTests {
    @Test("generated tasks are deterministic, verifiable, and train and held-out never share a prompt")
    func generator() throws {
        let g = TaskGenerator(seed: 3)
        let train = g.tasks(.train, perFamily: 40)
        let heldOut = g.tasks(.heldOut, perFamily: 40)
        #expect(train.count == 120 && heldOut.count == 120)
        #expect(train.map(\.prompts) == TaskGenerator(seed: 3).tasks(.train, perFamily: 40).map(\.prompts), "same seed, same tasks")
        #expect(train.map(\.prompts) != TaskGenerator(seed: 4).tasks(.train, perFamily: 40).map(\.prompts))
        #expect(Set(train.map(\.prompts)).isDisjoint(with: Set(heldOut.map(\.prompts))))
        #expect(Set(train.map(\.name)).count == train.count)
        for task in train + heldOut {
            let prompt = task.prompts[0]
            if task.name.hasPrefix("arithmetic") || task.name.hasPrefix("delegation") {
                // The expected answer is the arithmetic of the prompt, checked by the calculator tool.
                let expression = String(prompt.dropFirst("What is ".count).prefix { $0 != "?" })
                #expect(try CalculatorTool.evaluate(expression) == Double(task.expected)!, "\(prompt) → \(task.expected)")
                #expect((task.worker != nil) == task.name.hasPrefix("delegation"))
            } else {
                #expect(task.prompts.count == 2 && prompt.contains(task.expected) && !task.prompts[1].contains(task.expected))
            }
        }
    }

    @Test("attempts survive a torn last line: it is dropped on read, and the next append starts a fresh line")
    func attemptLog() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("attempts-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = AttemptLog(path: path)
        let run = AgentRun(id: "r", answer: "42", finish: .answered, steps: [], messages: [ChatMessage(role: "user", content: "q")])
        let attempt = Attempt(
            round: 1, task: "t", attempt: 0, version: "m@v1", reward: 1, trajectory: Trajectory(run: run, agent: "a", task: "q", reward: 1))
        try log.append(attempt)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"round": 1, "task": "t", "att"#.utf8))  // a kill mid-write
        try handle.close()
        #expect(try log.read() == [attempt])
        var next = attempt
        next.attempt = 1
        try log.append(next)
        #expect(try log.read().map(\.key) == ["1/t/0", "1/t/1"])
    }
}
