import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// The computed permutation that shuffles streamed data.
final class ShuffledOrderTests: XCTestCase {
    func testIsABijectionForManySizes() {
        for n in [1, 2, 3, 4, 5, 7, 13, 16, 17, 31, 64, 100, 127, 997, 1000, 1023, 1024, 1025, 4099, 65_537] {
            for seed: UInt64 in [1, 2] {
                let order = ShuffledOrder(count: n, seed: seed)
                var seen = [Bool](repeating: false, count: n)
                for i in 0..<n {
                    let j = order[i]
                    XCTAssertTrue(j >= 0 && j < n, "n \(n): \(i) -> \(j)")
                    XCTAssertFalse(seen[j], "n \(n): \(j) reached twice")
                    seen[j] = true
                }
                XCTAssertTrue(seen.allSatisfy { $0 }, "n \(n)")
            }
        }
    }

    func testSeedsGiveDifferentOrdersAndTheSameSeedTheSameOrder() {
        for n in [10, 97, 1000] {
            let orders = (1...6).map { seed in (0..<n).map { ShuffledOrder(count: n, seed: UInt64(seed))[$0] } }
            XCTAssertEqual(Set(orders).count, 6, "n \(n)")
            XCTAssertFalse(orders.contains(Array(0..<n)))
            XCTAssertEqual(orders[2], (0..<n).map { ShuffledOrder(count: n, seed: 3)[$0] })
        }
        // Both orders of two elements occur.
        XCTAssertEqual(Set((1...20).map { ShuffledOrder(count: 2, seed: UInt64($0))[0] }), [0, 1])
        // Keyed by the generator's state, which it advances: consecutive epochs differ.
        var generator = SeededGenerator(seed: 9)
        let first = ShuffledOrder(count: 500, generator: &generator), second = ShuffledOrder(count: 500, generator: &generator)
        XCTAssertNotEqual((0..<500).map { first[$0] }, (0..<500).map { second[$0] })
    }

    /// Looks random: each tenth of the positions spreads over the whole range, and neighbours
    /// are not mapped to neighbours.
    func testSpreadsPositions() {
        let n = 10_000, order = ShuffledOrder(count: n, seed: 4)
        for block in 0..<10 {
            let values = (block * 1000..<(block + 1) * 1000).map { order[$0] }
            let deciles = Set(values.map { $0 * 10 / n })
            XCTAssertEqual(deciles.count, 10, "block \(block)")
            XCTAssertGreaterThan(Double(values.reduce(0, +)) / 1000, 0.4 * Double(n))
            XCTAssertLessThan(Double(values.reduce(0, +)) / 1000, 0.6 * Double(n))
        }
        let adjacent = (0..<(n - 1)).filter { abs(order[$0] - order[$0 + 1]) == 1 }.count
        XCTAssertLessThan(adjacent, 20)
    }

    /// In-memory data keep the Fisher-Yates shuffle exactly (runs stay byte-identical);
    /// streamed data get the permutation, batch by batch.
    func testEpochOrderKeepsFisherYatesInMemory() {
        var g1 = SeededGenerator(seed: 3), g2 = g1, g3 = g1
        let order = EpochOrder(count: 103, batchSize: 10, streamed: false)
        order.shuffle(with: &g1)
        var expected = Array(0..<103)
        g2.shuffle(&expected)
        XCTAssertEqual(g1, g2)
        let got = stride(from: 0, to: 103, by: 10).flatMap { lo in order.withIndices(lo..<min(lo + 10, 103)) { Array($0) } }
        XCTAssertEqual(got, expected)

        let streamed = EpochOrder(count: 103, batchSize: 10, streamed: true)
        streamed.shuffle(with: &g3)
        var g4 = SeededGenerator(seed: 3)
        let permutation = ShuffledOrder(count: 103, generator: &g4)
        XCTAssertEqual(g3, g4)
        let batches = stride(from: 0, to: 103, by: 10).flatMap { lo in streamed.withIndices(lo..<min(lo + 10, 103)) { Array($0) } }
        XCTAssertEqual(batches, (0..<103).map { permutation[$0] })
        XCTAssertEqual(batches.sorted(), Array(0..<103))
    }
}

/// A .npy header for (rows, cols) of `descr` (NumPy's own layout), without the data.
func npyHeader(rows: Int, cols: Int, descr: String) -> [UInt8] {
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)] + Array(header.utf8)
}

/// Writes a 2-D float64 .npy file.
func writeFloat64NPY(_ values: [Double], rows: Int, cols: Int, to path: String) throws {
    var bytes = npyHeader(rows: rows, cols: cols, descr: "<f8")
    for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Datasets streamed from .npy shards: the same rows as in memory, and every bad input refused
/// with one line naming the file.
final class StreamedDataTests: XCTestCase {
    let cols = 5

    /// 40 rows in one file, the same rows as shards of 13, 1 and 26 rows in `dir/shards`, and as
    /// float64 shards of 14 and 26 rows in `dir/shards64`.
    func fixture() throws -> (dir: String, values: [Float]) {
        let dir = temporaryDirectory(self)
        let values = randomFloats(40 * cols, seed: 11).map { Float(Double($0)) }
        try NPY.write(values, rows: 40, cols: cols, to: dir + "/all.npy")
        try FileManager.default.createDirectory(atPath: dir + "/shards", withIntermediateDirectories: false)
        try NPY.write(Array(values[0..<(13 * cols)]), rows: 13, cols: cols, to: dir + "/shards/a.npy")
        try NPY.write(Array(values[(13 * cols)..<(14 * cols)]), rows: 1, cols: cols, to: dir + "/shards/b.npy")
        try NPY.write(Array(values[(14 * cols)...]), rows: 26, cols: cols, to: dir + "/shards/c.npy")
        try FileManager.default.createDirectory(atPath: dir + "/shards64", withIntermediateDirectories: false)
        try writeFloat64NPY(values[0..<(14 * cols)].map(Double.init), rows: 14, cols: cols, to: dir + "/shards64/a.npy")
        try writeFloat64NPY(values[(14 * cols)...].map(Double.init), rows: 26, cols: cols, to: dir + "/shards64/b.npy")
        try Data("not data".utf8).write(to: URL(fileURLWithPath: dir + "/shards/README.txt")) // ignored: not *.npy
        return (dir, values)
    }

    func gathered(_ data: Dataset, _ indices: [Int]) -> [Float] {
        var out = [Float](repeating: .nan, count: indices.count * data.featureCount)
        indices.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { data.gather(i, into: $0.baseAddress!) } }
        return out
    }

    func testStreamedShardsGiveExactlyTheRowsInMemory() throws {
        let (dir, values) = try fixture()
        let memory = try Dataset(npy: dir + "/all.npy")
        XCTAssertFalse(memory.isStreamed)
        let sources = [try Dataset(npy: dir + "/shards"),
                       try Dataset(npy: ["a", "b", "c"].map { dir + "/shards/\($0).npy" }),
                       try Dataset(npy: [dir + "/all.npy"], loading: .streamed),
                       try Dataset(npy: dir + "/shards64")]
        for streamed in sources {
            XCTAssertTrue(streamed.isStreamed)
            XCTAssertEqual(streamed.count, 40)
            XCTAssertEqual(streamed.featureCount, cols)
            XCTAssertEqual(streamed.floats(0..<40), values)
            XCTAssertEqual(streamed.floats(12..<15), memory.floats(12..<15))
            XCTAssertEqual(streamed.floats(7..<7), [])
            // Runs of consecutive rows across shard boundaries, repeats, single rows.
            var rng = SeededGenerator(seed: 2)
            let indices = [12, 13, 14, 15, 39, 0, 13, 13, 38, 39] + (0..<300).map { _ in Int(rng.next() % 40) }
            XCTAssertEqual(gathered(streamed, indices), gathered(memory, indices))
            XCTAssertEqual(streamed.subset([3, 20, 13]).floats(0..<3), memory.subset([3, 20, 13]).floats(0..<3))
            let head = streamed.prefix(14)
            XCTAssertTrue(head.isStreamed)
            XCTAssertEqual(head.count, 14)
            XCTAssertEqual(head.floats(0..<14), memory.prefix(14).floats(0..<14))
            XCTAssertNil(streamed.readFailure)
        }
        // Several files can also be read into memory, checked as one file.
        let loaded = try Dataset(npy: [dir + "/shards"], loading: .inMemory)
        XCTAssertFalse(loaded.isStreamed)
        XCTAssertEqual(loaded.floats(0..<40), values)
    }

    /// One small file stays in memory (today's behaviour); the threshold is at most 1 GiB.
    func testWhatIsStreamed() throws {
        let (dir, _) = try fixture()
        XCTAssertFalse(try Dataset(npy: dir + "/all.npy").isStreamed)
        XCTAssertTrue(try Dataset(npy: dir + "/shards").isStreamed)
        XCTAssertTrue(try Dataset(npy: [dir + "/all.npy", dir + "/all.npy"]).isStreamed)
        // A float16 file is judged by the float32 it becomes in memory.
        let mb = 1 << 20
        XCTAssertTrue(Dataset.streams(fileSize: 600 * mb, dtype: .float16, threshold: 1 << 30))
        XCTAssertFalse(Dataset.streams(fileSize: 600 * mb, dtype: .float32, threshold: 1 << 30))
        XCTAssertFalse(Dataset.streams(fileSize: 600 * mb, dtype: nil, threshold: 1 << 30))
        XCTAssertTrue(Dataset.streams(fileSize: 1100 * mb, dtype: .float64, threshold: 1 << 30), "float64 by its bytes, as ever")
        XCTAssertTrue(Dataset.streams(fileSize: .max, dtype: .float16, threshold: 1 << 30))
        XCTAssertLessThanOrEqual(Dataset.streamingThreshold, 1 << 30)
        // A directory with one shard is still a directory.
        try FileManager.default.createDirectory(atPath: dir + "/one", withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: dir + "/all.npy", toPath: dir + "/one/x.npy")
        XCTAssertTrue(try Dataset(npy: dir + "/one").isStreamed)
        // One file over the threshold: a sparse file of zeros (no disk space used), 1.2 GB.
        let big = dir + "/big.npy", (rows, width) = (300_000, 1024)
        let header = npyHeader(rows: rows, cols: width, descr: "<f4")
        try Data(header).write(to: URL(fileURLWithPath: big))
        XCTAssertEqual(truncate(big, off_t(header.count + rows * width * 4)), 0)
        let streamed = try Dataset(npy: big)
        XCTAssertTrue(streamed.isStreamed)
        XCTAssertEqual(streamed.count, rows)
        XCTAssertEqual(streamed.floats((rows - 2)..<rows), [Float](repeating: 0, count: 2 * width))
        XCTAssertThrowsError(try DataSettings.npy(train: big, validation: nil).load()) {
            XCTAssertTrue("\($0)".contains("is streamed from disk") && "\($0)".contains("--val-npy"), "\($0)")
        }
    }

    func assertRefused(_ paths: [String], mentioning parts: String..., file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Dataset(npy: paths), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(error is SAEError, text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "\(text) should mention \(part)", file: file, line: line) }
        }
    }

    func testBadShardsAreRefusedNamingTheFile() throws {
        let (dir, values) = try fixture()
        let fm = FileManager.default
        func shardDir(_ name: String, _ files: [(String, [UInt8])]) throws -> String {
            let path = dir + "/" + name
            try fm.createDirectory(atPath: path, withIntermediateDirectories: false)
            for (file, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + file)) }
            return path
        }
        let good = NPY.encode(Array(values[0..<(4 * cols)]), rows: 4, cols: cols)
        // Different widths.
        let widths = try shardDir("widths", [("a.npy", good), ("b.npy", NPY.encode([1, 2, 3, 4, 5, 6], rows: 2, cols: 3))])
        assertRefused([widths], mentioning: widths + "/b.npy", "has 3 features per row", "has \(cols)")
        // An empty shard (0 rows).
        let empty = try shardDir("empty", [("a.npy", good), ("b.npy", NPY.encode([], rows: 0, cols: cols))])
        assertRefused([empty], mentioning: empty + "/b.npy", "holds no rows")
        // A truncated shard: shorter than its header says.
        let truncated = try shardDir("truncated", [("a.npy", Array(good.dropLast(3))), ("b.npy", good)])
        assertRefused([truncated], mentioning: truncated + "/a.npy", "is truncated", "needs \(4 * cols * 4) data bytes")
        // A directory without .npy files.
        let none = try shardDir("none", [("notes.txt", Array("x".utf8))])
        assertRefused([none], mentioning: none, "holds no .npy or .safetensors files")
        // A file that is not .npy, given directly or named .npy in a directory.
        let text = try shardDir("text", [("a.npy", good), ("b.npy", Array("hello, world".utf8))])
        assertRefused([text], mentioning: text + "/b.npy", "not a NumPy .npy file")
        assertRefused([dir + "/shards/README.txt"], mentioning: dir + "/shards/README.txt", "not a NumPy .npy file")
        assertRefused([dir + "/all.npy", dir + "/shards/README.txt"], mentioning: "README.txt", "not a NumPy .npy file")
        // A directory where a file is expected: among several paths, or a shard that is a directory.
        assertRefused([dir + "/all.npy", dir + "/shards"], mentioning: dir + "/shards", "is a directory")
        let nested = try shardDir("nested", [("a.npy", good)])
        try fm.createDirectory(atPath: nested + "/b.npy", withIntermediateDirectories: false)
        assertRefused([nested], mentioning: nested + "/b.npy", "is a directory")
        XCTAssertThrowsError(try NPY.read(path: dir + "/shards")) { XCTAssertTrue("\($0)".contains("is a directory"), "\($0)") }
        // Missing.
        assertRefused([dir + "/missing.npy"], mentioning: dir + "/missing.npy", "does not exist")
        assertRefused([dir + "/all.npy", dir + "/missing.npy"], mentioning: dir + "/missing.npy", "does not exist")
        // float32 and float64 shards together: refused, naming the odd one.
        assertRefused([dir + "/shards/a.npy", dir + "/shards64/b.npy"], mentioning: dir + "/shards64/b.npy", "every shard needs the same dtype")
    }

    /// A NaN in a streamed shard cannot throw from inside a step: it is recorded, with the file.
    func testNonFiniteRowsAreRecorded() throws {
        let dir = temporaryDirectory(self)
        try NPY.write([1, 2, 3, 4, .nan, 6], rows: 3, cols: 2, to: dir + "/nan.npy")
        XCTAssertThrowsError(try Dataset(npy: dir + "/nan.npy")) { XCTAssertTrue("\($0)".contains("NaN"), "\($0)") }
        let streamed = try Dataset(npy: [dir + "/nan.npy"], loading: .streamed)
        _ = streamed.floats(0..<2)
        XCTAssertNil(streamed.readFailure)
        _ = streamed.floats(0..<3)
        XCTAssertEqual(streamed.readFailure?.message, dir + "/nan.npy: row 2 holds NaN or infinite values")
    }

    /// A dictionary trained on streamed shards: the mean start reads through `floats`, an
    /// interrupted run resumes to exactly the uninterrupted weights, and the config records the
    /// paths (several files as a list; old single-file configs read as before).
    func testTrainingOnStreamedDataResumesExactly() throws {
        let dir = temporaryDirectory(self)
        let rows = 300
        let values = randomFloats(rows * 8, seed: 5)
        for (i, range) in [0..<100, 100..<101, 101..<300].enumerated() {
            try NPY.write(Array(values[(range.lowerBound * 8)..<(range.upperBound * 8)]), rows: range.count, cols: 8,
                          to: dir + "/shard\(i).npy")
        }
        let data = try Dataset(npy: [dir])
        XCTAssertTrue(data.isStreamed)
        let config = AutoencoderConfig.dictionary(inputSize: 8, codeSize: 16, topK: 2, auxK: AuxK(k: 4))
        let settings = TrainingSettings(epochs: 3, batchSize: 32, seed: 5, deadAfter: 64)
        // 10 steps + the end-of-epoch check, then 3.
        let streamed = try assertCheckpointResumesExactly(config, on: data, settings: settings, stopAfter: 14,
                                                          at: .interrupted(epoch: 2, step: 3), in: dir).model.parameterValues

        // The same rows in memory give another shuffle, so other (but sane) weights.
        let memory = try Dataset(npy: [dir], loading: .inMemory)
        let inMemory = try Autoencoder(config: config, seed: 5)
        try inMemory.fit(memory, settings: settings)
        XCTAssertNotEqual(inMemory.parameterValues, streamed)

        // Config: a directory is one path; several files a list; both load.
        let several = DataSettings.npy(train: [dir + "/shard0.npy", dir + "/shard2.npy"], validation: [dir + "/shard1.npy"])
        XCTAssertNil(several.trainFile)
        XCTAssertEqual(several.trainPaths, [dir + "/shard0.npy", dir + "/shard2.npy"])
        XCTAssertEqual(several.validationFile, dir + "/shard1.npy")
        for settings in [several, .npy(train: [dir], validation: [dir + "/shard1.npy"])] {
            let run = RunConfig(model: config, training: TrainingSettings(), data: settings)
            let decoded = try RunConfig.decode(try JSONFile.encode(run), name: "config.json")
            XCTAssertEqual(decoded.data, settings)
            let loaded = try decoded.data.load()
            XCTAssertTrue(loaded.train.isStreamed)
            XCTAssertEqual(loaded.test.count, 1)
        }
        XCTAssertEqual(try several.load().train.count, 299)
        let old = #"{"dataset": "npy", "train_file": "\#(dir)/shard2.npy"}"#
        let oldSettings = try JSONFile.decode(DataSettings.self, from: Data(old.utf8), name: "config.json")
        XCTAssertEqual(oldSettings.trainPaths, [dir + "/shard2.npy"])
        XCTAssertEqual(try oldSettings.load().train.count, 179) // in memory, 10% held out
        // Streamed training data need a validation set.
        XCTAssertThrowsError(try DataSettings.npy(train: [dir], validation: []).load()) {
            XCTAssertTrue("\($0)".contains("give a validation set with --val-npy"), "\($0)")
        }
    }

    /// The `sae` tool: --data-npy takes a directory or several files, and the run resumes and analyses.
    func testCommandLineTrainsOnShards() throws {
        let (dir, _) = try fixture()
        let ok = try runSAE(["train", "--data-npy", dir + "/shards/a.npy", dir + "/shards/c.npy", "--val-npy", dir + "/shards/b.npy",
                             "--code", "8", "--k", "2", "--epochs", "2", "--batch-size", "8", "--out", dir + "/run"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.contains("on 39 vectors of \(dir)/shards/a.npy and 1 more file, validating on 1 vectors of \(dir)/shards/b.npy, into"), ok.stdout)
        let config = try RunDirectory(path: dir + "/run").loadConfig()
        XCTAssertEqual(config.data.trainFiles, [dir + "/shards/a.npy", dir + "/shards/c.npy"])
        let analyze = try runSAE(["analyze", dir + "/run"])
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        let encode = try runSAE(["encode", dir + "/run", "--npy", dir + "/shards", "--out", dir + "/codes.npy"])
        XCTAssertEqual(encode.status, 0, encode.stderr)
        // Written batch by batch from the streamed shards: the codes of the same rows in memory.
        let codes = try NPY.read(path: dir + "/codes.npy")
        XCTAssertEqual(codes.rows, 40)
        let (_, model) = try RunDirectory(path: dir + "/run").loadModel()
        XCTAssertEqual(codes.values, model.encode(try Dataset(npy: dir + "/all.npy")))
        XCTAssertTrue(codes.values.contains { $0 > 0 })
        let reconstruct = try runSAE(["reconstruct", dir + "/run", "--npy", dir + "/shards", "--out", dir + "/recon.npy"])
        XCTAssertEqual(reconstruct.status, 0, reconstruct.stderr)
        XCTAssertEqual(try NPY.read(path: dir + "/recon.npy").values, model.reconstruct(try Dataset(npy: dir + "/all.npy")))
        // An output that is an input or one of the run's files under another name is refused, even with
        // --force, before anything is written (the shard was emptied, the run's model overwritten).
        let shard = try Data(contentsOf: URL(fileURLWithPath: dir + "/shards/a.npy"))
        XCTAssertEqual(link(dir + "/shards/a.npy", dir + "/shard-link.npy"), 0)
        XCTAssertEqual(link(dir + "/run/model.safetensors", dir + "/model-link.npy"), 0)
        assertCommandFails(try runSAE(["encode", dir + "/run", "--npy", dir + "/shards", "--out", dir + "/shard-link.npy", "--force"]),
                           mentioning: "is the same file as \(dir)/shards/a.npy")
        assertCommandFails(try runSAE(["encode", dir + "/run", "--npy", dir + "/all.npy", "--out", dir + "/model-link.npy", "--force"]),
                           mentioning: "model-link.npy is a hard link to a run's weights")
        try FileManager.default.createDirectory(atPath: dir + "/export", withIntermediateDirectories: false)
        XCTAssertEqual(link(dir + "/run/model.safetensors", dir + "/export/sae_weights.safetensors"), 0)
        assertCommandFails(try runSAE(["export", dir + "/run", "--out", dir + "/export", "--force"]), mentioning: "is the same file as")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/shards/a.npy")), shard)
        XCTAssertNoThrow(try RunDirectory(path: dir + "/run").loadModel())

        let repeated = try runSAE(["train", "--data-npy", dir + "/shards", "--val-npy", dir + "/all.npy", "--data-npy", dir + "/all.npy",
                                   "--code", "8", "--k", "2", "--epochs", "1", "--out", dir + "/r2"])
        assertCommandFails(repeated, mentioning: "is a directory")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/shards", "--code", "8", "--k", "2", "--out", dir + "/r3"]),
                           mentioning: "--val-npy")
    }

    /// Safetensors shards of two tensors (a layer's activations and another's): trained on with
    /// --tensor, a run has exactly the weights of the same float32 values as .npy shards; encode
    /// reads a file's tensor with --tensor; a --tensor that nothing reads is refused.
    func testCommandLineTrainsOnSafetensorsShards() throws {
        let (dir, values) = try fixture()
        try FileManager.default.createDirectory(atPath: dir + "/st", withIntermediateDirectories: false)
        for (name, rows) in [("a", 0..<13), ("b", 13..<14), ("c", 14..<40)] {
            let part = Array(values[(rows.lowerBound * cols)..<(rows.upperBound * cols)])
            try writeSafetensors([("mlp", "F32", [rows.count, 3], storedBytes(Array(part.prefix(rows.count * 3)), as: "F32")),
                                  ("resid", "F32", [rows.count, cols], storedBytes(part, as: "F32"))], to: dir + "/st/\(name).safetensors")
        }
        let common = ["--code", "8", "--k", "2", "--epochs", "2", "--batch-size", "8"]
        let npy = try runSAE(["train", "--data-npy", dir + "/shards/a.npy", dir + "/shards/c.npy", "--val-npy", dir + "/shards/b.npy", "--out", dir + "/npy-run"] + common)
        XCTAssertEqual(npy.status, 0, npy.stderr)
        let st = try runSAE(["train", "--data-npy", dir + "/st/a.safetensors", dir + "/st/c.safetensors", "--val-npy", dir + "/st/b.safetensors",
                             "--tensor", "resid", "--out", dir + "/st-run"] + common)
        XCTAssertEqual(st.status, 0, st.stderr)
        let (config, model) = try RunDirectory(path: dir + "/st-run").loadModel()
        XCTAssertEqual(config.data.tensor, "resid")
        XCTAssertEqual(model.parameterValues, try RunDirectory(path: dir + "/npy-run").loadModel().1.parameterValues)
        let encode = try runSAE(["encode", dir + "/st-run", "--npy", dir + "/st", "--tensor", "resid", "--out", dir + "/codes.npy"])
        XCTAssertEqual(encode.status, 0, encode.stderr)
        XCTAssertEqual(try NPY.read(path: dir + "/codes.npy").values, model.encode(try Dataset(npy: dir + "/all.npy")))
        let analyze = try runSAE(["analyze", dir + "/st-run"])   // the run's own data: its tensor
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        assertCommandFails(try runSAE(["encode", dir + "/st-run", "--npy", dir + "/st", "--out", dir + "/codes2.npy"]),
                           mentioning: "holds 2 tensors (mlp [13, 3], resid [13, 5]): name the one of vectors with --tensor")
        assertCommandFails(try runSAE(["encode", dir + "/st-run", "--tensor", "resid", "--out", dir + "/codes2.npy"]),
                           mentioning: "--tensor names a tensor of the --npy file: give --npy")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/shards", "--val-npy", dir + "/all.npy", "--tensor", "resid",
                                       "--out", dir + "/r4"] + common), mentioning: "no file is .safetensors")
        assertCommandFails(try runSAE(["train", "--tensor", "resid", "--out", dir + "/r5"]), mentioning: "--tensor names a tensor of --data-npy's")
        assertCommandFails(try runSAE(["train", "--resume", dir + "/st-run", "--tensor", "mlp"]), mentioning: "drop --tensor")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r4"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/codes2.npy"))
    }
}
