import ArgumentParser
import Logging

@main
struct Colony: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "colony",
        abstract:
            "Run LLMs on this machine: generate, chat, serve an OpenAI-compatible API, run agents, fine-tune, load-test, inspect and benchmark GGUF models.",
        discussion: """
            Without --model, commands use $COLONY_MODEL or models/SmolLM2-135M-Instruct.Q4_1.gguf \
            (fetched by ./scripts/setup). Results go to stdout, logs to stderr.
            """,
        subcommands: [
            Generate.self, Chat.self, Serve.self, Worker.self, Router.self, Cluster.self, Loadgen.self, Agents.self, Train.self, Learn.self,
            Eval.self, MCPTools.self,
            Tokenize.self, Detokenize.self, Template.self, Models.self,
            Inspect.self, Bench.self,
        ]
    )
}

/// Logs go to stderr so stdout carries only results.
func bootstrapLogging(verbose: Bool) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = verbose ? .debug : .warning
        return handler
    }
}
