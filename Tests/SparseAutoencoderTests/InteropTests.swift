import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Training on vectors from .npy files and exporting a dictionary SAE that Python loads: the whole
/// path through the `sae` tool, checked by Tests/Interop/check_export.py with numpy alone.
final class InteropTests: XCTestCase {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Interop/check_export.py").path

    /// (rows, 12) vectors: sums of two of 40 random directions, plus an offset.
    func sparseVectors(rows: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        let directions = randomFloats(40 * 12, seed: 99)
        var x = [Float](repeating: 0.5, count: rows * 12)
        for r in 0..<rows {
            for _ in 0..<2 {
                let a = Int(rng.next() % 40), s = 1 + rng.nextUnitFloat()
                for j in 0..<12 { x[r * 12 + j] += s * directions[a * 12 + j] }
            }
        }
        return x
    }

    func testTrainOnNpyThenExportReproducesOurEncodingsInNumpy() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(sparseVectors(rows: 1500, seed: 1), rows: 1500, cols: 12, to: dir + "/train.npy")
        try NPY.write(sparseVectors(rows: 200, seed: 2), rows: 200, cols: 12, to: dir + "/x.npy")
        let train = try runSAE(["train", "--data-npy", dir + "/train.npy", "--code", "48", "--k", "4", "--auxk", "6",
                                "--epochs", "3", "--batch-size", "64", "--out", dir + "/run"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("validating on 150"), train.stdout) // 10% held out
        let config = try RunDirectory(path: dir + "/run").loadConfig()
        XCTAssertEqual(config.model.architecture, .dictionary)
        XCTAssertEqual(config.model.auxK, AuxK(k: 6))
        XCTAssertEqual(config.data, .npy(train: dir + "/train.npy", validation: nil))
        let metrics = try RunDirectory(path: dir + "/run").loadMetrics()
        XCTAssertNil(metrics.testBce)
        XCTAssertLessThan(metrics.testFvu!, 1)
        XCTAssertEqual(metrics.codes.l0, 4, accuracy: 0.01)

        for (what, file) in [("encode", "codes"), ("reconstruct", "recon")] {
            let r = try runSAE([what, dir + "/run", "--npy", dir + "/x.npy", "--out", dir + "/\(file).npy"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        for format in ["saelens", "sparsify"] {
            let r = try runSAE(["export", dir + "/run", "--format", format, "--out", dir + "/\(format)"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let check = try runPython([Self.script, dir + "/\(format)", dir + "/x.npy", dir + "/codes.npy", dir + "/recon.npy"])
            XCTAssertEqual(check.status, 0, check.output)
            XCTAssertTrue(check.output.contains("same active latents: True"), check.output)
        }
        let analyze = try runSAE(["analyze", dir + "/run"])
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        XCTAssertTrue(analyze.stdout.contains("validation FVU"), analyze.stdout)
    }

    /// JumpReLU, BatchTopK and Matryoshka export as SAELens's jumprelu (the last two with their
    /// inference threshold for every latent), Gated as its gated, an L1 dictionary as its standard;
    /// numpy reproduces their codes; sparsify has none of them.
    func testThresholdArchitecturesExportAsJumpReLU() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(sparseVectors(rows: 1500, seed: 1), rows: 1500, cols: 12, to: dir + "/train.npy")
        try NPY.write(sparseVectors(rows: 200, seed: 2), rows: 200, cols: 12, to: dir + "/x.npy")
        // BatchTopK sets its threshold from step 1,001 (0-based): batches of 4 give 338 steps an
        // epoch here, 1,014 in 3.
        for (name, options) in [("jumprelu", ["--architecture", "jumprelu", "--target-l0", "4", "--epochs", "3"]),
                                ("batchtopk", ["--architecture", "batchtopk", "--k", "4", "--auxk", "6", "--epochs", "3", "--batch-size", "4"]),
                                ("matryoshka", ["--architecture", "matryoshka", "--k", "4", "--groups", "12,36", "--epochs", "3", "--batch-size", "4"]),
                                ("gated", ["--architecture", "gated", "--epochs", "3"]),
                                ("standard", ["--penalty", "l1", "--l1", "1e-3", "--epochs", "2"])] {
            let run = dir + "/" + name
            let train = try runSAE(["train", "--data-npy", dir + "/train.npy", "--code", "48", "--out", run]
                                   + (options.contains("--batch-size") ? options : options + ["--batch-size", "16"]))
            XCTAssertEqual(train.status, 0, train.stderr)
            let encode = try runSAE(["encode", run, "--npy", dir + "/x.npy", "--out", run + "/codes.npy"])
            XCTAssertEqual(encode.status, 0, encode.stderr)
            let reconstruct = try runSAE(["reconstruct", run, "--npy", dir + "/x.npy", "--out", run + "/recon.npy"])
            XCTAssertEqual(reconstruct.status, 0, reconstruct.stderr)
            let export = try runSAE(["export", run, "--out", run + "/saelens"])
            XCTAssertEqual(export.status, 0, export.stderr)
            let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/saelens/cfg.json"))) as! [String: Any]
            XCTAssertEqual(cfg["architecture"] as? String, ["gated": "gated", "standard": "standard"][name] ?? "jumprelu", name)
            let check = try runPython([Self.script, run + "/saelens", dir + "/x.npy", run + "/codes.npy", run + "/recon.npy"])
            XCTAssertEqual(check.status, 0, check.output)
            XCTAssertTrue(check.output.contains("same active latents: True"), check.output)
            assertCommandFails(try runSAE(["export", run, "--format", "sparsify", "--out", run + "/sparsify"]), mentioning: "sparsify SAEs are TopK")
            // (The standard SAE: relu latents, SAELens's "standard".)
            XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/sparsify"))
        }
    }

    func testVectorInputErrors() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(sparseVectors(rows: 20, seed: 1), rows: 20, cols: 12, to: dir + "/a.npy")
        try NPY.write([Float](repeating: 0, count: 20 * 5), rows: 20, cols: 5, to: dir + "/b.npy")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/a.npy", "--val-npy", dir + "/b.npy", "--out", dir + "/r"]),
                           mentioning: "has 5 features per row")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/missing.npy", "--out", dir + "/r"]), mentioning: "missing.npy: does not exist")
        assertCommandFails(try runSAE(["train", "--val-npy", dir + "/a.npy", "--out", dir + "/r"]), mentioning: "needs --data-npy")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/a.npy", "--hidden", "8", "--out", dir + "/r"]), mentioning: "no hidden layers")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/a.npy", "--auxk", "4", "--out", dir + "/r"]), mentioning: "topk")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/r"))
        // Only a dictionary SAE exports.
        let mirrored = try Autoencoder(config: AutoencoderConfig(inputSize: 12, hiddenSizes: [8], codeSize: 4), seed: 1)
        XCTAssertThrowsError(try SAEExport.write(mirrored, format: .saelens, to: dir + "/e")) {
            XCTAssertTrue("\($0)".contains("only a dictionary SAE"), "\($0)")
        }
    }
}
