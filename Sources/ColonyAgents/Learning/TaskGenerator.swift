import ColonyModels

/// Tasks with verifiable rewards in families, generated from a seed, with train and
/// held-out instances that never share a prompt: the experience `colony learn` learns from
/// and the yardstick it is measured on.
///
/// Families:
/// - `arithmetic`: a ladder from a small sum to two operations on three numbers (`What is
///   23 * 7 + 41?`), which the model gets right by calling the calculator;
/// - `recall`: a fact saved to memory in one turn and asked for in the next;
/// - `delegation`: arithmetic a supervisor without a calculator must send to a worker agent;
/// - `units`: a unit conversion through the `convert` tool of Colony's own MCP server
///   (`colony mcp`), whose tools the runner passes as server `units` (`unitsServer`).
///
/// ```swift
/// let generator = TaskGenerator(seed: 7)
/// let train = generator.tasks(.train, perFamily: 16)
/// let heldOut = generator.tasks(.heldOut, perFamily: 8)   // no prompt in common with train
/// ```
public struct TaskGenerator: Sendable {
    public enum Family: String, CaseIterable, Sendable, Codable {
        case arithmetic, recall, delegation, units
    }

    public enum Split: String, Sendable, Codable {
        case train
        case heldOut = "held-out"
    }

    public var seed: UInt64

    /// The MCP server name `units` tasks expect their tools under (`units.convert`).
    public static let unitsServer = "units"

    /// The units family's instructions, with one worked example as for arithmetic. Its
    /// answer, 32, is no task's (the smallest is 40), so copying it never scores.
    public static let unitsInstructions =
        "Solve the task. Use the units.convert tool to convert, then give the final answer."
        + #" Example: for 'How many oz are in 2 lb?' reply {"name":"units.convert","arguments":{"query":"2 lb in oz"}}; "#
        + #"when it returns 32, reply {"name":"final_answer","arguments":{"answer":"32"}}."#

    public init(seed: UInt64 = 0) { self.seed = seed }

    /// The arithmetic family's instructions: the suite's, plus one worked example of the
    /// two calls that solve a task. Calibration on SmolLM2-135M (16 train tasks, 8 tries at
    /// temperature 0.5): without the example no try called the calculator and then answered
    /// (0 of 16 tasks solved); with it, 6 of 16 were solved within 8 tries, mostly failing by
    /// calling the calculator again instead of answering: a behaviour there is to learn. Its
    /// answer, 42, is no task's (sums reach 38, the other rungs start at 43), so copying it
    /// never scores.
    public static let arithmeticInstructions =
        TaskSuite.instructions
        + #" Example: for 'What is 6 * 7?' reply {"name":"calculator","arguments":{"expression":"6 * 7"}}; "#
        + #"when it returns 42, reply {"name":"final_answer","arguments":{"answer":"42"}}."#

    /// `perFamily` tasks of each family in `families`, in a fixed order; named
    /// `FAMILY-SPLIT-N`. Held-out instances skip any prompt a train instance of the same
    /// seed could have (train draws first from its own stream).
    public func tasks(_ split: Split, perFamily: Int, families: [Family] = Family.allCases) -> [SuiteTask] {
        var out: [SuiteTask] = []
        for family in families {
            var seen: Set<String> = []
            if split == .heldOut {
                // The first 1,024 draws of the train stream: every train set of up to ~1,000 per family.
                seen = Set(instances(family, .train, count: 1_024).map { $0.prompts.joined(separator: "\n") })
            }
            var made = 0
            for task in instances(family, split, count: 64 * perFamily + 64) where made < perFamily {
                let key = task.prompts.joined(separator: "\n")
                guard seen.insert(key).inserted else { continue }
                out.append(
                    SuiteTask(
                        name: "\(family.rawValue)-\(split.rawValue)-\(made)", prompts: task.prompts, expected: task.expected,
                        worker: task.worker, instructions: task.instructions, toolServer: task.toolServer))
                made += 1
            }
        }
        return out
    }

    /// A stream of instances of one family and split (duplicates possible; `tasks` drops them).
    private func instances(_ family: Family, _ split: Split, count: Int) -> [SuiteTask] {
        let stream = UInt64(Family.allCases.firstIndex(of: family)! * 2 + (split == .train ? 0 : 1))
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ stream &* 0xBF58_476D_1CE4_E5B9 &+ 1)
        func draw(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(rng.next() % UInt64(range.count)) }
        return (0..<count).map { _ in
            switch family {
            case .arithmetic:
                // A ladder: one small sum (a small model sometimes gets it unaided), one product
                // of two-digit numbers, two operations: the calculator makes every rung easy.
                let (a, b, c) = (draw(11...49), draw(3...19), draw(10...99))
                let (prompt, answer): (String, Int)
                switch draw(0...3) {
                case 0:
                    let (x, y) = (draw(2...19), draw(2...19))
                    (prompt, answer) = ("What is \(x) + \(y)?", x + y)
                case 1: (prompt, answer) = ("What is \(a) * \(c)?", a * c)
                case 2: (prompt, answer) = ("What is \(a) * \(b) + \(c)?", a * b + c)
                default: (prompt, answer) = ("What is (\(a) + \(c)) * \(b)?", (a + c) * b)
                }
                return SuiteTask(name: "", prompts: [prompt], expected: "\(answer)", instructions: Self.arithmeticInstructions)
            case .recall:
                let things = ["locker", "door", "safe", "vault", "gate", "bike lock", "garage", "alarm", "mailbox", "server room"]
                let (thing, code) = (things[draw(0...(things.count - 1))], draw(1000...9999))
                return SuiteTask(
                    name: "", prompts: ["Remember this fact: the \(thing) code is \(code).", "What is the \(thing) code?"],
                    expected: "\(code)")
            case .units:
                // Whole-number conversions only, so the answer is one exact integer.
                let pairs = [
                    ("km", "m", 1000), ("m", "cm", 100), ("cm", "mm", 10), ("kg", "g", 1000), ("h", "min", 60), ("min", "s", 60),
                    ("day", "h", 24),
                ]
                let (from, to, factor) = pairs[draw(0...(pairs.count - 1))]
                let value = draw(4...299)  // 2,072 prompts: held-out still finds enough unseen by 1,024 train draws
                return SuiteTask(
                    name: "", prompts: ["How many \(to) are in \(value) \(from)?"], expected: "\(value * factor)",
                    instructions: Self.unitsInstructions, toolServer: Self.unitsServer)
            case .delegation:
                let (a, b) = (draw(12...99), draw(3...29))
                return SuiteTask(
                    name: "", prompts: ["What is \(a) * \(b)? Ask the worker to compute it."], expected: "\(a * b)", worker: "worker")
            }
        }
    }
}
