import ColonyModels
import ColonyTensor
import Foundation
import Testing

@Suite("GGUF reader and writer")
struct GGUFTests {
    static func sampleWriter() throws -> GGUFWriter {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("u8", .uint8(200))
        w.set("i8", .int8(-5))
        w.set("u16", .uint16(60000))
        w.set("i16", .int16(-300))
        w.set("u32", .uint32(4_000_000_000))
        w.set("i32", .int32(-70000))
        w.set("f32", .float32(1.5))
        w.set("bool", .bool(true))
        w.set("str", .string("héllo 🌍"))
        w.set("u64", .uint64(1 << 40))
        w.set("i64", .int64(-(1 << 40)))
        w.set("f64", .float64(2.25))
        w.set("nested", .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [])]))
        w.set("strings", .array(.string, [.string("a"), .string(""), .string("Ġthe")]))
        w.set("empty", .array(.float32, []))
        var rng = SystemRandomNumberGenerator()
        for (i, type) in [DType.f32, .f16, .bf16, .q4_0, .q4_1, .q8_0].enumerated() {
            let values = (0..<(64 * 3)).map { _ in Float.random(in: -1...1, using: &rng) }
            w.add(try Tensor.quantizing(values, name: "t\(i).\(type)", shape: [64, 3], as: type))
        }
        return w
    }

    @Test("write then read gives back every value and tensor byte")
    func roundTrip() throws {
        let writer = try Self.sampleWriter()
        let bytes = writer.serialized()
        let file = try GGUFFile(storage: TensorStorage(copying: bytes))
        #expect(file.version == 3)
        #expect(file.keys == writer.entries.map(\.key))
        for (key, value) in writer.entries { #expect(file.metadata[key] == value, "\(key)") }
        #expect(file.tensors.map(\.name) == writer.tensors.map(\.name))
        for (a, b) in zip(file.tensors, writer.tensors) {
            #expect(a.dtype == b.dtype && a.shape == b.shape)
            #expect(a.byteOffset % 32 == 0)
            #expect(a.dequantized() == b.dequantized())
        }
        // Writing what was read reproduces the file byte for byte.
        var again = GGUFWriter()
        for key in file.keys { again.set(key, file.metadata[key]!) }
        for t in file.tensors { again.add(t) }
        #expect(again.serialized() == bytes)
    }

    @Test("reads the Python gguf package's files (tiny models)")
    func readsPythonWrittenFile() throws {
        let file = try GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf"))
        #expect(try file.string("general.architecture") == "llama")
        #expect(try file.int("llama.embedding_length") == 64)
        #expect(file.tensor("token_embd.weight")?.dtype == .q8_0)
        #expect(file.tensor("blk.0.ffn_up.weight")?.dtype == .bf16)
        #expect(file.tensor("blk.0.attn_q.weight")?.shape == [64, 64])
        #expect(try file.array("tokenizer.ggml.tokens").count == 320)
    }

    static func parse(_ bytes: [UInt8]) throws(GGUFError) -> GGUFFile {
        try GGUFFile(storage: TensorStorage(copying: bytes), path: "test.gguf")
    }

    @Test("malformed files fail with errors that name the problem")
    func malformed() throws {
        let good = try Self.sampleWriter().serialized()
        #expect(throws: GGUFError.notGGUF(path: "test.gguf", magic: Array("GGML".utf8))) {
            try Self.parse(Array("GGML".utf8) + good.dropFirst(4))
        }
        #expect(throws: GGUFError.notGGUF(path: "test.gguf", magic: [])) { try Self.parse([]) }
        var v1 = good
        v1[4] = 1
        #expect(throws: GGUFError.unsupportedVersion(1)) { try Self.parse(v1) }
        var v2 = good
        v2[4] = 2  // version 2 has the same layout as 3
        #expect(try Self.parse(v2).version == 2)
        #expect(try Self.parse(v2).metadata == Self.parse(good).metadata)
        // Cut anywhere: always `truncated`, never a crash.
        let last = try Self.parse(good).tensors.last!
        for cut in [6, 20, 30, 100, 500, good.count / 2, last.byteOffset + last.byteCount - 1] {
            #expect {
                try Self.parse(Array(good.prefix(cut)))
            } throws: { error in
                guard case .truncated = error as? GGUFError else { return false }
                return true
            }
        }
        let truncatedMessage = try #require(throws: GGUFError.self) { try Self.parse(Array(good.prefix(30))) }
        #expect(truncatedMessage.description.hasPrefix("GGUF file is truncated: "))
    }

    @Test("unknown tensor and value types are rejected by name")
    func unknownTypes() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.add(try Tensor.quantizing([1, 2], name: "bad", shape: [2], as: .f32))
        var bytes = w.serialized()
        // The tensor's type id sits after its name (8+3 bytes) and dims (4+8 bytes).
        let header = 4 + 4 + 8 + 8 + (8 + 20 + 4 + 8 + 5)
        let typeOffset = header + 8 + 3 + 4 + 8
        #expect(bytes[typeOffset] == 0)
        bytes[typeOffset] = 99
        #expect(throws: GGUFError.unsupportedTensorType(99, tensor: "bad")) { try Self.parse(bytes) }
        bytes[typeOffset] = UInt8(DType.iq4_xs.rawValue)  // a known type Colony cannot compute with
        let file = try Self.parse(bytes + [UInt8](repeating: 0, count: 256))
        #expect(throws: TensorError.unsupportedType(.iq4_xs, tensor: "bad")) { try file.tensors[0].validateComputable() }
        let message = TensorError.unsupportedType(.iq4_xs, tensor: "bad").description
        #expect(message.contains("IQ4_XS") && message.contains("Q4_K") && message.contains("Q6_K"), "\(message)")

        var v = w.serialized()
        let valueTypeOffset = 4 + 4 + 8 + 8 + 8 + 20
        #expect(v[valueTypeOffset] == 8)
        v[valueTypeOffset] = 42
        #expect(throws: GGUFError.invalidValueType(42, key: "general.architecture")) { try Self.parse(v) }
    }

    @Test("missing keys and unknown architectures are named")
    func modelLevelErrors() throws {
        var w = GGUFWriter()
        w.set("general.architecture", .string("mamba"))
        let file = try Self.parse(w.serialized())
        #expect(throws: ModelError.unknownArchitecture("mamba", known: LlamaConfiguration.architectures)) {
            try LlamaConfiguration(gguf: file)
        }
        #expect(LlamaConfiguration.architectures == ["llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"])
        #expect(throws: GGUFError.missingMetadata(key: "llama.block_count")) { try file.int("llama.block_count") }
        #expect(throws: GGUFError.wrongMetadataType(key: "general.architecture", expected: "integer", found: .string)) {
            try file.int("general.architecture")
        }
        w.set("general.architecture", .string("llama"))
        w.set("llama.embedding_length", .uint32(64))
        #expect(throws: ModelError.gguf(.missingMetadata(key: "llama.attention.head_count"))) {
            try LlamaConfiguration(gguf: try Self.parse(w.serialized()))
        }
        #expect(ModelError.unknownArchitecture("mamba", known: ["llama"]).description == "unknown architecture 'mamba'; known: llama")
    }

    @Test("variants Colony does not run are refused at load, by name")
    func refusedVariants() throws {
        let source = try GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf"))
        func variant(_ extra: [String: GGUFValue]) throws -> GGUFFile {
            var w = GGUFWriter()
            for key in source.keys { w.set(key, source.metadata[key]!) }
            for (key, value) in extra { w.set(key, value) }
            for t in source.tensors { w.add(t) }
            return try Self.parse(w.serialized())
        }
        func message(_ extra: [String: GGUFValue]) throws -> String {
            do {
                _ = try LlamaModel(gguf: try variant(extra))
                return "loaded"
            } catch { return "\(error)" }
        }
        #expect(try message(["llama.expert_count": .uint32(8)]).contains("mixture-of-experts models (8 experts"))
        #expect(try message(["split.count": .uint16(3), "split.no": .uint16(1)]).contains("part 2 of a model split into 3 GGUF files"))
        #expect(try message(["llama.rope.scaling.type": .string("yarn")]).contains("rope scaling type 'yarn' is not supported"))
        #expect(
            try message(["llama.attention.sliding_window_pattern": .uint32(2), "llama.attention.sliding_window": .uint32(4)]) == "loaded")
        #expect(try message(["llama.expert_count": .uint32(0)]) == "loaded", "0 experts is a dense model")
    }

    @Test("a tensor of the wrong shape is reported with both shapes")
    func wrongShape() throws {
        let source = try GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf"))
        var w = GGUFWriter()
        for key in source.keys { w.set(key, source.metadata[key]!) }
        for t in source.tensors {
            if t.name == "blk.1.attn_k.weight" {
                w.add(try Tensor.quantizing([Float](repeating: 0.5, count: 64 * 16), name: t.name, shape: [64, 16], as: .f32))
            } else {
                w.add(t)
            }
        }
        let file = try Self.parse(w.serialized())
        let error = try #require(throws: ModelError.self) { try LlamaModel(gguf: file) }
        #expect(error.description == "expected tensor 'blk.1.attn_k.weight' of 64×32, found 64×16")
    }
}
