import ArgumentParser
import ColonyEngine
import ColonyModels
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a reply to a prompt and stream it to stdout.",
        discussion: "The prompt is wrapped in the model's chat template unless --raw is given."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(name: .long, help: "The prompt text.")
    var prompt: String

    @OptionGroup var templateOptions: TemplateOptions

    @Flag(name: .long, help: "Feed the prompt as is, without the chat template.")
    var raw = false

    @Flag(name: .long, help: "Print token counts and speeds to stderr at the end.")
    var stats = false

    func validate() throws {
        if raw && templateOptions.isSet { throw ValidationError("--raw cannot be combined with --system or --chat-template") }
    }

    func run() throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, tokenizer) = try modelOptions.loadModel()
        let tokens: [Int]
        var options = sampling.options
        if raw {
            tokens = tokenizer.encode(prompt)
        } else {
            let template = try templateOptions.template(for: model.file)
            tokens = try template.tokens(
                templateOptions.openingMessages + [ChatMessage(role: "user", content: prompt)], tokenizer: tokenizer)
            options.stopStrings.append(template.endOfTurn)
        }
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: tokens.count + options.maxTokens + 1)
        let result = try generator.generate(prompt: tokens, options: options) { piece in
            writeOut(piece)
            return true
        }
        writeOut("\n")
        if stats {
            let prefill = Double(result.promptTokens) / max(result.prefillSeconds, 1e-9)
            let decode = Double(result.tokens.count) / max(result.decodeSeconds, 1e-9)
            writeErr(
                String(
                    format: "prompt %d tokens, %.1f tok/s; generated %d tokens, %.1f tok/s; finish: %@\n",
                    result.promptTokens, prefill, result.tokens.count, decode, result.finishReason.rawValue))
        }
    }
}
