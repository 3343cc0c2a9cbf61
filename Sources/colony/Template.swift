import ArgumentParser
import ColonyJinja
import ColonyModels
import Foundation

struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with chat templates.",
        subcommands: [TemplateRender.self])
}

struct TemplateRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a chat template with a JSON input, as Hugging Face's apply_chat_template does.",
        discussion: """
            The input is the template's variables as one JSON object, in the order given: \
            {"messages": [...], "tools": [...], "add_generation_prompt": true, "bos_token": "<s>", …}. \
            The rendered text goes to stdout exactly, with nothing added. A template that calls \
            raise_exception(msg) exits with status 1 and msg alone on stderr. strftime_now reads \
            SOURCE_DATE_EPOCH when it is set, so renders can be reproduced.
            """)

    @Option(name: .long, help: "The template: a .jinja file, a bundled name (chatml, llama3, gemma), or a GGUF model's own.")
    var template: String

    @Option(name: .long, help: "The JSON input file ('-' reads stdin).")
    var input: String

    func run() throws {
        let chatTemplate =
            template.hasSuffix(".gguf") ? try ChatTemplate(gguf: ModelOptions.open(template)) : try ChatTemplate(named: template)
        let data: Data
        do {
            data = input == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: input))
        } catch {
            throw ValidationError("cannot read the input file '\(input)'")
        }
        let context: JinjaObject
        do {
            guard case .object(let o) = try JinjaJSON.parse(String(decoding: data, as: UTF8.self)) else {
                throw ValidationError("the input '\(input)' must be a JSON object of template variables")
            }
            context = o
        } catch let error as JinjaError {
            throw ValidationError("the input '\(input)' is not valid JSON: \(error.message)")
        }
        do { writeOut(try chatTemplate.render(context: context)) } catch .chatTemplateRaised(let message) {
            writeErr(message + "\n")
            throw ExitCode(1)
        }
    }
}
