import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// `sae import`: SAEs in SAELens's and sparsify's layouts read back into models whose codes are
/// the originals', every architecture sae exports; an encoder that reads x uncentred folded into
/// the biases; half-precision tensors; and the one-line refusals. (`bench/import_check.py` checks
/// SAEs made by the real packages.)
final class ImportTests: XCTestCase {
    private let (d, c) = (6, 24)

    private func model(_ configure: (inout AutoencoderConfig) -> Void) throws -> Autoencoder {
        var config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, unitNormDecoder: false)
        configure(&config)
        let m = try Autoencoder(config: config, seed: 3)
        var p = m.parameterValues
        for layer in m.layers { for j in 0..<layer.outputSize { p[layer.biasOffset + j] = Float(j % 5) * 0.05 - 0.1 } }
        for t in m.architectureTensors { for i in 0..<t.shape.reduce(1, *) { p[t.offset + i] = Float(i % 7) * 0.03 } }
        m.parameterValues = p
        return m
    }

    /// Exported, imported: the same codes and outputs, for each architecture and format.
    func testExportsReadBackToTheSameCodes() throws {
        let dir = temporaryDirectory(self), x = randomFloats(40 * d, seed: 8, in: -1...2)
        let cases: [(String, SAEExport.Format, Autoencoder)] = [
            ("topk", .saelens, try model { $0.codeActivation = .topk; $0.topK = 3 }),
            ("topk-sparsify", .sparsify, try model { $0.codeActivation = .topk; $0.topK = 3 }),
            ("standard", .saelens, try model { _ in }),
            ("jumprelu", .saelens, try model { $0.architecture = .jumprelu; $0.jumpReLU = JumpReLUSettings() }),
            ("gated", .saelens, try model { $0.architecture = .gated }),
            ("transcoder", .saelens, try model { $0.outputSize = 4 }),
            ("jumprelu-transcoder", .saelens, try model { $0.architecture = .jumprelu; $0.jumpReLU = JumpReLUSettings(); $0.outputSize = 9 }),
            ("topk-transcoder", .sparsify, try model { $0.codeActivation = .topk; $0.topK = 3; $0.outputSize = 6 }),
        ]
        for (name, format, original) in cases {
            try SAEExport.write(original, format: format, to: dir + "/" + name)
            let imported = try SAEImport.read(dir + "/" + name).model
            XCTAssertEqual(imported.config.architecture, original.config.architecture, name)
            XCTAssertEqual(imported.config.outputSize, original.config.outputSize, name)
            XCTAssertEqual(imported.encode(x), original.encode(x), name)
            XCTAssertEqual(imported.reconstruct(x), original.reconstruct(x), name)
            XCTAssertGreaterThan(original.encode(x).filter { $0 > 0 }.count, 40, "\(name): latents fire")
        }
    }

    /// Writes a SAELens directory by hand: cfg fields and tensors as given (F32 unless `dtype`).
    private func writeSAELens(_ dir: String, cfg: [String: Any], tensors: [(String, [Int], [Float])], dtype: String = "F32") throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: dir + "/cfg.json"))
        var header: [String: Any] = [:], body: [UInt8] = []
        for (name, shape, values) in tensors {
            let start = body.count
            for v in values {
                switch dtype {
                case "BF16": withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { body += $0 }
                case "F16": withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { body += $0 }
                default: withUnsafeBytes(of: v.bitPattern.littleEndian) { body += $0 }
                }
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [start, body.count]]
        }
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header))
        var file: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file += $0 }
        try Data(file + json + body).write(to: URL(fileURLWithPath: dir + "/sae_weights.safetensors"))
    }

    /// SAELens SAEs whose encoder reads x itself (apply_b_dec_to_input false): sae folds b_dec W_enc
    /// into the encoder bias (a gated one's into b_gate and b_mag), and the codes are SAELens's
    /// formulas' (relu(x W_enc + b_enc); the gated one's), computed here in Double.
    func testAnEncoderThatReadsXUncentredIsFoldedIntoTheBiases() throws {
        let dir = temporaryDirectory(self), rows = 30, x = randomFloats(rows * d, seed: 2)
        let (wEnc, bEnc, wDec, bDec) = (randomFloats(d * c, seed: 3), randomFloats(c, seed: 4, in: -0.2...0.2),
                                        randomFloats(c * d, seed: 5), randomFloats(d, seed: 6))
        let (rMag, bMag) = (randomFloats(c, seed: 7, in: -0.3...0.3), randomFloats(c, seed: 9, in: -0.2...0.2))
        func pre(_ r: Int, _ j: Int) -> Double { (0..<d).reduce(0.0) { $0 + Double(x[r * d + $1]) * Double(wEnc[$1 * c + j]) } }
        let common: [String: Any] = ["d_in": d, "d_sae": c, "apply_b_dec_to_input": false, "normalize_activations": "none"]
        var cfg = common
        cfg["architecture"] = "standard"
        try writeSAELens(dir + "/standard", cfg: cfg, tensors: [("W_enc", [d, c], wEnc), ("b_enc", [c], bEnc), ("W_dec", [c, d], wDec), ("b_dec", [d], bDec)])
        cfg["architecture"] = "gated"
        try writeSAELens(dir + "/gated", cfg: cfg, tensors: [("W_enc", [d, c], wEnc), ("b_gate", [c], bEnc), ("r_mag", [c], rMag), ("b_mag", [c], bMag),
                                                             ("W_dec", [c, d], wDec), ("b_dec", [d], bDec)])
        let standard = try SAEImport.read(dir + "/standard"), gated = try SAEImport.read(dir + "/gated")
        XCTAssertTrue(standard.summary.contains("folded"), standard.summary)
        let (a, g) = (standard.model.encode(x), gated.model.encode(x))
        for r in 0..<rows {
            for j in 0..<c {
                let v = pre(r, j)
                XCTAssertEqual(Double(a[r * c + j]), max(v + Double(bEnc[j]), 0), accuracy: 1e-5)
                let magnitude = v * exp(Double(rMag[j])) + Double(bMag[j])
                XCTAssertEqual(Double(g[r * c + j]), v + Double(bEnc[j]) > 0 ? max(magnitude, 0) : 0, accuracy: 1e-5)
            }
        }
    }

    func testHalfPrecisionTensorsAreConverted() throws {
        let dir = temporaryDirectory(self)
        // Values exact in bfloat16 and float16: multiples of 1/8 below 4.
        let values = (0..<(d * c)).map { Float(($0 % 31) - 15) / 8 }
        for dtype in ["BF16", "F16"] {
            try writeSAELens(dir + "/" + dtype, cfg: ["d_in": d, "d_sae": c, "architecture": "standard"],
                             tensors: [("W_enc", [d, c], values), ("b_enc", [c], [Float](repeating: 0.25, count: c)),
                                       ("W_dec", [c, d], values), ("b_dec", [d], [Float](repeating: -0.5, count: d))], dtype: dtype)
            let tensors = Dictionary(uniqueKeysWithValues: try SAEImport.read(dir + "/" + dtype).model.namedTensors.map { ($0.name, $0.tensor) })
            XCTAssertEqual(tensors["layers.0.kernel"]!.values, values, dtype)
            XCTAssertEqual(tensors["layers.1.bias"]!.values, [Float](repeating: -0.5, count: d), dtype)
        }
    }

    func testWhatCannotBeReadIsRefusedInOneLine() throws {
        let dir = temporaryDirectory(self)
        let good: [(String, [Int], [Float])] = [("W_enc", [d, c], randomFloats(d * c, seed: 1)), ("b_enc", [c], randomFloats(c, seed: 2)),
                                                ("W_dec", [c, d], randomFloats(c * d, seed: 3)), ("b_dec", [d], randomFloats(d, seed: 4))]
        let base: [String: Any] = ["d_in": d, "d_sae": c, "architecture": "standard"]
        func refused(_ name: String, cfg: [String: Any] = [:], tensors: [(String, [Int], [Float])]? = nil, mentioning text: String) throws {
            try writeSAELens(dir + "/" + name, cfg: base.merging(cfg) { $1 }, tensors: tensors ?? good)
            XCTAssertThrowsError(try SAEImport.read(dir + "/" + name), name) { error in
                XCTAssertTrue("\(error)".contains(text), "\(name): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "one line")
            }
        }
        try refused("temporal", cfg: ["architecture": "temporal"], mentioning: "architecture \"temporal\" is not one sae reads")
        try refused("missing", tensors: Array(good.dropLast()), mentioning: "lack the tensor \"b_dec\"")
        try refused("shape", cfg: ["d_sae": c + 1], mentioning: "tensor \"b_enc\" has shape [24], but cfg.json's sizes need [25]")
        try refused("extra", tensors: good + [("W_skip", [d, d], randomFloats(d * d, seed: 5))], mentioning: "unexpected tensor \"W_skip\"")
        try refused("norm", cfg: ["normalize_activations": "expected_average_only_in"], mentioning: "normalize_activations")
        try refused("topk", cfg: ["architecture": "topk"], mentioning: "needs k")
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        XCTAssertThrowsError(try SAEImport.read(dir + "/empty")) { XCTAssertTrue("\($0)".contains("neither sae_weights.safetensors"), "\($0)") }
    }

    /// Through the tool: an export imported into a run that encode, features and analyze read; a
    /// run that cannot be resumed; the data's width checked.
    func testTheToolImportsIntoARun() throws {
        let dir = temporaryDirectory(self)
        let original = try model { $0.codeActivation = .topk; $0.topK = 3 }
        try SAEExport.write(original, format: .saelens, to: dir + "/export")
        let x = randomFloats(200 * d, seed: 4)
        try NPY.write(x, rows: 200, cols: d, to: dir + "/x.npy")
        try NPY.write(randomFloats(200 * 5, seed: 4), rows: 200, cols: 5, to: dir + "/wide.npy")
        assertCommandFails(try runSAE(["import", dir + "/export", "--out", dir + "/run"]), mentioning: "give --data-npy")
        assertCommandFails(try runSAE(["import", dir + "/export", "--data-npy", dir + "/wide.npy", "--out", dir + "/run"]),
                           mentioning: "--data-npy has 5 features per row but the SAE reads 6")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run"))
        let r = try runSAE(["import", dir + "/export", "--data-npy", dir + "/x.npy", "--out", dir + "/run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("SAELens topk (d_in 6, 24 latents, k 3)"), r.stdout)
        let encoded = try runSAE(["encode", dir + "/run", "--npy", dir + "/x.npy", "--out", dir + "/codes.npy"])
        XCTAssertEqual(encoded.status, 0, encoded.stderr)
        XCTAssertEqual(try NPY.read(path: dir + "/codes.npy").values, original.encode(x))
        XCTAssertEqual(try runSAE(["features", dir + "/run"]).status, 0)
        XCTAssertEqual(try runSAE(["analyze", dir + "/run", "--no-probe"]).status, 0)
        assertCommandFails(try runSAE(["train", "--resume", dir + "/run"]), mentioning: "nothing to resume")
    }
}
