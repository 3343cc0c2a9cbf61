import ArgumentParser
import ColonyModels
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a GGUF file's metadata and tensor table.")

    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .long, help: "Print every tensor (default: the first 24 and a summary).")
    var allTensors = false

    func run() throws {
        let file = try ModelOptions.open(modelOptions.model)
        var out =
            "GGUF v\(file.version), \(file.fileSize) bytes, \(file.keys.count) metadata keys, \(file.tensors.count) tensors, alignment \(file.alignment)\n\nMetadata:\n"
        let width = file.keys.map(\.count).max() ?? 0
        for key in file.keys {
            out += "  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(file.metadata[key]!)\n"
        }
        out += "\nTensors:\n"
        let shown = allTensors ? file.tensors : Array(file.tensors.prefix(24))
        let nameWidth = shown.map(\.name.count).max() ?? 0
        for t in shown {
            let shape = t.shape.map(String.init).joined(separator: "×")
            let size = t.dtype.isSupported ? "\(t.byteCount) bytes" : "unsupported type"
            out +=
                "  \(t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0))  \(t.dtype.description.padding(toLength: 5, withPad: " ", startingAt: 0))  \(shape.padding(toLength: 12, withPad: " ", startingAt: 0))  \(size)\n"
        }
        if shown.count < file.tensors.count { out += "  … \(file.tensors.count - shown.count) more (--all-tensors)\n" }
        var byType: [String: (count: Int, elements: Int)] = [:]
        for t in file.tensors {
            byType[t.dtype.description, default: (0, 0)].count += 1
            byType[t.dtype.description]!.elements += t.elementCount
        }
        out +=
            "\nBy type: "
            + byType.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.count) tensors (\($0.value.elements) values)" }.joined(
                separator: ", ") + "\n"
        if let config = try? LlamaConfiguration(gguf: file) {
            out +=
                "\nModel: \(config.architecture.rawValue), \(config.blockCount) layers, dim \(config.embeddingLength), \(config.headCount) heads of \(config.headDimension) (\(config.kvHeadCount) KV), ffn \(config.feedForwardLength), vocab \(config.vocabularySize), context \(config.contextLength), rope base \(config.ropeFreqBase)"
                + (config.slidingWindow.map { w in
                    ", sliding window \(w) on \((0..<config.blockCount).filter { config.isSliding(layer: $0) }.count) layers"
                } ?? "")
                + (config.attentionSoftCap.map { ", attention soft cap \($0)" } ?? "")
                + (config.finalSoftCap.map { ", logit soft cap \($0)" } ?? "")
                + "\n"
        }
        writeOut(out)
    }
}
