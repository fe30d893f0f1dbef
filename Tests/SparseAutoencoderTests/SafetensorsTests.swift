import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class SafetensorsTests: XCTestCase {
    let tensors: [(name: String, tensor: Safetensors.Tensor)] = [
        ("a.kernel", .init(shape: [2, 3], values: [1, -2, 3.5, 0, .pi, -0.0])),
        ("a.bias", .init(shape: [3], values: [1e-30, 7, 1e30])),
        ("scalar\"quoted", .init(shape: [], values: [42])),
    ]

    func testRoundTrip() throws {
        let bytes = Safetensors.encode(tensors, metadata: ["format": "test"])
        let (decoded, metadata) = try Safetensors.decode(bytes, name: "t")
        XCTAssertEqual(metadata, ["format": "test"])
        XCTAssertEqual(decoded.count, 3)
        for (name, tensor) in tensors { XCTAssertEqual(decoded[name], tensor, name) }
    }

    func testLayoutFollowsTheSpec() throws {
        let bytes = Safetensors.encode(tensors)
        let n = Int(bytes[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        XCTAssertEqual(n % 8, 0, "header padded to 8 bytes")
        XCTAssertEqual(bytes.count, 8 + n + 4 * 10)
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        let kernel = header["a.kernel"] as! [String: Any]
        XCTAssertEqual(kernel["dtype"] as? String, "F32")
        XCTAssertEqual(kernel["data_offsets"] as? [Int], [0, 24])
        // Little-endian F32 data: 1.0 is 00 00 80 3f.
        XCTAssertEqual(Array(bytes[(8 + n)..<(8 + n + 4)]), [0, 0, 0x80, 0x3f])
    }

    func testMalformedFilesAreRefused() {
        func file(_ header: String, data: Int = 8) -> [UInt8] {
            var h = Array(header.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            return withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init) + h + [UInt8](repeating: 0, count: data)
        }
        let cases: [([UInt8], String)] = [
            ([1, 2, 3], "too short"),
            (withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init) + [0], "over the 100 MB limit"),
            (withUnsafeBytes(of: UInt64(64).littleEndian, Array.init) + [0x7b, 0x7d], "but the file has only"),
            (file("not json"), "not valid JSON"),
            (file("[1, 2]"), "not a JSON object"),
            (file(#"{"t":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#), "only F32"),
            (file(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#), "needs 4"),
            (file(#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#), "outside"),
            (file(#"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#), "invalid shape"),
            (file(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"u":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#), "overlap"),
            (file(#"{"t":{"dtype":"F32","shape":[2]}}"#), "needs dtype, shape and two data_offsets"),
            (file(#"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#), "larger than the file"),
            (file(#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#), "duplicate key \"t\""),
            (file(String(repeating: "[", count: 100_000)), "nesting deeper than 64"),
            (file(#"{"__metadata__":{"a":1}}"#), "must map strings to strings"),
            (file(#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#), "invalid shape"),
        ]
        for (bytes, expected) in cases {
            XCTAssertThrowsError(try Safetensors.decode(bytes, name: "w.safetensors")) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error) should mention \(expected)")
            }
        }
    }

    /// `save` and checkpoints stream the tensors from the parameters (a latent-major encoder row by
    /// row): the file must be byte for byte what encoding copies of the tensors gives, and the
    /// checkpoint must restore.
    func testStreamedWritesAreTheEncodedBytes() throws {
        let dir = temporaryDirectory(self)
        for config in [AutoencoderConfig(inputSize: 12, hiddenSizes: [5], codeSize: 3),
                       .dictionary(inputSize: 6, codeSize: 10, topK: 2)] {
            let model = try Autoencoder(config: config, seed: 3)
            XCTAssertEqual(model.layers[0].unitMajor, config.architecture == .dictionary)
            try model.save(to: dir + "/model.safetensors")
            let expected = Safetensors.encode(model.namedTensors, metadata: ["format": "sae-autoencoder"])
            XCTAssertEqual([UInt8](FileManager.default.contents(atPath: dir + "/model.safetensors")!), expected)
            let trainer = try Trainer(model: model, settings: TrainingSettings(epochs: 1, batchSize: 8))
            let data = Dataset(vectors: randomFloats(16 * config.inputSize, seed: 2, in: 0...1), count: 16, features: config.inputSize)
            _ = try trainer.fit(data)
            try trainer.saveCheckpoint(to: dir + "/checkpoint.safetensors")
            let restored = try Trainer(model: try Autoencoder(config: config, seed: 9), settings: TrainingSettings(epochs: 1, batchSize: 8))
            try restored.restoreCheckpoint(from: dir + "/checkpoint.safetensors")
            XCTAssertEqual(restored.model.parameterValues, model.parameterValues)
            XCTAssertEqual(Array(restored.optimizer.moments), Array(trainer.optimizer.moments))
        }
        // A failure inside the stream leaves neither the file nor a temporary one.
        struct Stop: Error {}
        XCTAssertThrowsError(try Safetensors.write([Safetensors.Source(name: "t", shape: [1]) { _ in throw Stop() }], to: dir + "/failed"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["checkpoint.safetensors", "model.safetensors"])
    }

    /// Files are read with pread, not a memory map: a file shortened while it is read (an
    /// in-place copy over it, a failing network mount) is a one-line error, not SIGBUS; a FIFO
    /// or a directory is refused at once.
    func testAFileShortenedWhileReadIsAnErrorAndOddFilesAreRefused() throws {
        let dir = temporaryDirectory(self)
        let path = dir + "/w.safetensors"
        try AtomicFile.write(Safetensors.encode([("a", Safetensors.Tensor(shape: [4096], values: randomFloats(4096, seed: 1)))]), to: path)
        var first = [Float](repeating: 0, count: 4096)
        try Safetensors.withFile(path) { views, _ in
            try first.withUnsafeMutableBufferPointer { try views["a"]!.read(0..<4096, into: $0.baseAddress!) }
            XCTAssertEqual(truncate(path, 1000), 0)
            XCTAssertThrowsError(try first.withUnsafeMutableBufferPointer { try views["a"]!.read(2000..<4096, into: $0.baseAddress!) }) {
                XCTAssertTrue("\($0)".hasSuffix("was shortened while it was being read"), "\($0)")
            }
        }
        XCTAssertEqual(Array(first.prefix(3)), Array(randomFloats(4096, seed: 1).prefix(3)))
        mkfifo(dir + "/fifo", 0o600)
        XCTAssertThrowsError(try Safetensors.withFile(dir + "/fifo") { _, _ in }) { XCTAssertTrue("\($0)".contains("is not a regular file"), "\($0)") }
        XCTAssertThrowsError(try Safetensors.withFile(dir) { _, _ in }) { XCTAssertTrue("\($0)".contains("is a directory"), "\($0)") }
        XCTAssertThrowsError(try Safetensors.withFile(path) { _, _ in }) { XCTAssertTrue("\($0)".contains("is larger than the file"), "\($0)") }
    }
}
