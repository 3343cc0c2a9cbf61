import ArgumentParser
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

    @Option(name: .long, help: "A system message to put before the prompt.")
    var system: String?

    @Flag(name: .long, help: "Feed the prompt as is, without the chat template.")
    var raw = false

    @Option(name: .long, help: "Chat template to use instead of the model's: chatml, llama3, gemma.")
    var chatTemplate: String?

    @Flag(name: .long, help: "Print token counts and speeds to stderr at the end.")
    var stats = false

    func validate() throws {
        if raw && (system != nil || chatTemplate != nil) { throw ValidationError("--raw cannot be combined with --system or --chat-template") }
        if let chatTemplate, !ChatTemplate.knownNames.contains(chatTemplate.lowercased()) {
            throw ValidationError("unknown chat template '\(chatTemplate)'; known: \(ChatTemplate.knownNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, tokenizer) = try modelOptions.loadModel()
        let text: String
        var options = sampling.options
        if raw {
            text = prompt
        } else {
            let template = try chatTemplate.map { name throws(ModelError) in try ChatTemplate(named: name) } ?? ChatTemplate(gguf: model.file)
            var messages = [ChatMessage(role: "user", content: prompt)]
            if let system { messages.insert(ChatMessage(role: "system", content: system), at: 0) }
            text = template.render(messages)
            options.stopStrings.append(template.endOfTurn)
        }
        let tokens = tokenizer.encode(text)
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: tokens.count + options.maxTokens + 1)
        let result = try generator.generate(prompt: tokens, options: options) { piece in
            writeOut(piece)
            return true
        }
        writeOut("\n")
        if stats {
            let prefill = Double(result.promptTokens) / max(result.prefillSeconds, 1e-9)
            let decode = Double(result.tokens.count) / max(result.decodeSeconds, 1e-9)
            writeErr(String(format: "prompt %d tokens, %.1f tok/s; generated %d tokens, %.1f tok/s; finish: %@\n",
                            result.promptTokens, prefill, result.tokens.count, decode, result.finishReason.rawValue))
        }
    }
}
