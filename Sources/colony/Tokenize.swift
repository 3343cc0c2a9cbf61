import ArgumentParser
import ColonyModels
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text as a JSON array, as llama.cpp's llama-tokenize counts them.",
        discussion: """
            Special tokens like <|im_start|> are parsed; BOS (and EOS) are added as the model's metadata asks. \
            Works on vocabulary-only GGUF files (llama.cpp's models/ggml-vocab-*.gguf).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Argument(help: "The text to tokenize.")
    var text: String

    @Flag(name: .long, help: "Treat special-token text as plain text.")
    var noSpecial = false

    @Flag(name: .long, help: "Add neither BOS nor EOS.")
    var noBos = false

    func run() throws {
        let tokenizer = try Tokenizer(gguf: ModelOptions.open(modelOptions.model))
        var ids = tokenizer.encode(text, parseSpecial: !noSpecial, addBOS: noBos ? false : nil)
        if tokenizer.addEOS, !noBos, let eos = tokenizer.eosToken { ids.append(eos) }
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
