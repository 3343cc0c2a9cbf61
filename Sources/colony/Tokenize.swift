import ArgumentParser
import ColonyModels
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text as a JSON array (special tokens like <|im_start|> are parsed).")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The text to tokenize.")
    var text: String

    @Flag(name: .long, help: "Treat special-token text as plain text.")
    var noSpecial = false

    func run() throws {
        let tokenizer = try Tokenizer(gguf: ModelOptions.open(modelOptions.model))
        let ids = tokenizer.encode(text, parseSpecial: !noSpecial)
        writeOut("[" + ids.map(String.init).joined(separator: ",") + "]\n")
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the text of token ids, given as a JSON array or as separate arguments.")

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "Token ids: '[1, 2, 3]' or 1 2 3.")
    var ids: [String]

    func run() throws {
        let tokenizer = try Tokenizer(gguf: ModelOptions.open(modelOptions.model))
        let joined = ids.joined(separator: " ")
        let parts = joined.split { " ,[]\n\t".contains($0) }
        var tokens: [Int] = []
        for part in parts {
            guard let id = Int(part) else { throw ValidationError("'\(part)' is not a token id") }
            guard id >= 0 && id < tokenizer.vocabularySize else {
                throw ValidationError("token id \(id) is outside the vocabulary 0..<\(tokenizer.vocabularySize)")
            }
            tokens.append(id)
        }
        writeOut(tokenizer.decode(tokens) + "\n")
    }
}
