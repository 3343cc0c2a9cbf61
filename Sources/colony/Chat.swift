import ArgumentParser
import ColonyEngine
import ColonyModels
import Foundation

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with the model interactively; the conversation is kept between turns.",
        discussion: "Type a message and press Enter. Commands: /reset starts over, /exit (or Ctrl-D) quits."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @OptionGroup var templateOptions: TemplateOptions

    @Option(name: .long, help: "Context length in tokens (default: the model's, at most 4096).")
    var context: Int?

    func validate() throws {
        if let context, context < 16 { throw ValidationError("--context must be at least 16, got \(context)") }
    }

    func run() throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, tokenizer) = try modelOptions.loadModel()
        let template = try templateOptions.template(for: model.file)
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: context)
        let start = templateOptions.openingMessages
        var messages = start
        var options = sampling.options
        options.stopStrings.append(template.endOfTurn)
        let interactive = isatty(STDIN_FILENO) != 0
        while true {
            if interactive { writeErr("> ") }
            guard let line = readLine() else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input == "/exit" || input == "/quit" { break }
            if input == "/reset" {
                messages = start
                writeErr("(conversation cleared)\n")
                continue
            }
            messages.append(ChatMessage(role: "user", content: input))
            do {
                let prompt = try template.tokens(messages, tokenizer: tokenizer)
                let result = try generator.generate(prompt: prompt, options: options) { piece in
                    writeOut(piece)
                    return true
                }
                writeOut("\n")
                messages.append(ChatMessage(role: "assistant", content: result.text))
            } catch {
                // The turn that failed is dropped so the conversation stays usable.
                messages.removeLast()
                writeErr("\(error); /reset to start over\n")
            }
        }
    }
}
