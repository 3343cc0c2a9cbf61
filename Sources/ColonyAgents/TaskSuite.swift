import Foundation

/// Tasks with answers a program can check: the yardstick for agent quality now and the
/// reward for learning later.
public struct SuiteTask: Sendable {
    public var name: String
    /// Tasks run in order within one agent namespace: a later task may need what an
    /// earlier one saved to memory.
    public var prompts: [String]
    /// Text the final answer of the last prompt must contain.
    public var expected: String

    /// 1 when the answer contains the expected text, else 0.
    public func reward(_ answer: String?) -> Double { Self.reward(answer, expected: expected) }

    /// 1 when `answer` contains `expected` (thousands separators ignored), else 0.
    public static func reward(_ answer: String?, expected: String) -> Double {
        (answer ?? "").replacingOccurrences(of: ",", with: "").contains(expected) ? 1 : 0
    }
}

public enum TaskSuite {
    public static let instructions = "Solve the task. Use the calculator for arithmetic and memory to keep or recall facts, then give the final answer."

    public static let tasks: [SuiteTask] = [
        SuiteTask(name: "multiply", prompts: ["What is 17 * 23?"], expected: "391"),
        SuiteTask(name: "mixed", prompts: ["What is 144 / 12 + 5?"], expected: "17"),
        SuiteTask(name: "parentheses", prompts: ["What is (25 - 7) * 3?"], expected: "54"),
        SuiteTask(name: "power", prompts: ["What is 2 ^ 10?"], expected: "1024"),
        SuiteTask(name: "recall", prompts: ["Remember this fact: the secret code is 4721.", "What is the secret code?"], expected: "4721"),
    ]
}
