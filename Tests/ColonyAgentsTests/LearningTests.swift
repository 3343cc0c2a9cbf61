import ColonyModels
import ColonyStore
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
        #expect(train.count == 160 && heldOut.count == 160)
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
                // Copying the worked example's answer never scores.
                #expect(task.expected != "42")
            }
            if task.name.hasPrefix("arithmetic") {
                #expect(task.instructions == TaskGenerator.arithmeticInstructions && task.toolServer == nil)
            } else if task.name.hasPrefix("units") {
                // "How many m are in 7 km?": the answer is the tool's own conversion.
                let words = prompt.dropLast().split(separator: " ")
                #expect(try UnitsTool.convert("\(words[5]) \(words[6]) in \(words[2])") == task.expected, "\(prompt)")
                #expect(task.instructions == TaskGenerator.unitsInstructions && task.toolServer == TaskGenerator.unitsServer)
                #expect(Int(task.expected)! >= 40, "copying the worked example's answer (32) never scores")
            } else {
                #expect(task.instructions == nil && task.toolServer == nil, "\(task.name) runs on the suite's instructions and tools")
            }
            if task.name.hasPrefix("recall") {
                #expect(task.prompts.count == 2 && prompt.contains(task.expected) && !task.prompts[1].contains(task.expected))
            }
        }
    }

    @Test("numbers are graded as numbers: a longer or different number holding the digits earns nothing")
    func grading() {
        #expect(SuiteTask.reward("The answer is 21.", expected: "21") == 1)
        #expect(SuiteTask.reward("21.0", expected: "21") == 1)
        #expect(SuiteTask.reward("1,595", expected: "1595") == 1)
        #expect(SuiteTask.reward("-12", expected: "-12") == 1)
        #expect(SuiteTask.reward("21.5", expected: "21") == 0)
        #expect(SuiteTask.reward("3000", expected: "300") == 0)
        #expect(SuiteTask.reward("84", expected: "4") == 0)
        #expect(SuiteTask.reward(nil, expected: "4") == 0)
        #expect(SuiteTask.reward("the vault code is 4721", expected: "vault") == 1, "text is matched as text")
    }

    @Test("a generated arithmetic task runs on its family's instructions, and the calculator's result answered is rewarded")
    func familyInstructions() async throws {
        let task = try #require(TaskGenerator(seed: 1).tasks(.train, perFamily: 4, families: [.arithmetic]).last)
        let expression = String(task.prompts[0].dropFirst("What is ".count).prefix { $0 != "?" })
        let client = ScriptedClient([
            AgentTests.call("calculator", #"{"expression":"\#(expression)"}"#),
            AgentTests.call("final_answer", #"{"answer":"\#(task.expected)"}"#),
        ])
        let result = try await TaskSuite.run(task, client: client, store: try SQLiteStore(path: ":memory:"))
        #expect(result.reward == 1)
        let system = try #require(client.requests.withLock { $0.first?.messages.first })
        #expect(system == ChatMessage(role: "system", content: TaskGenerator.arithmeticInstructions))
    }

    @Test("a units task gets its MCP server's tools, and is refused by name when that server is not running")
    func unitsServerTools() async throws {
        let task = try #require(TaskGenerator(seed: 1).tasks(.train, perFamily: 1, families: [.units]).first)
        let store = try SQLiteStore(path: ":memory:")
        await #expect(throws: AgentError.noToolServer(task: task.name, server: "units")) {
            try await TaskSuite.run(task, client: ScriptedClient([]), store: store)
        }
        let client = ScriptedClient([AgentTests.call("final_answer", #"{"answer":"\#(task.expected)"}"#)])
        let result = try await TaskSuite.run(task, client: client, store: store, servers: ["units": [UnitsTool()]])
        #expect(result.reward == 1)
        #expect(client.requests.withLock { $0.first?.tools.map(\.name) } == ["convert", "final_answer"])
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
