import Foundation
import XCTest
@testable import SparseAutoencoder

/// A safetensors file written by hand (its own header code, not the library's): tensors of any
/// dtype given as raw little-endian bytes, in order.
func writeSafetensors(_ tensors: [(name: String, dtype: String, shape: [Int], bytes: [UInt8])], to path: String) throws {
    var offset = 0
    let entries = tensors.map { t -> String in
        defer { offset += t.bytes.count }
        return "\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}"
    }
    var header = Array("{\(entries.joined(separator: ","))}".utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var file: [UInt8] = []
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
    file += header
    for t in tensors { file += t.bytes }
    try Data(file).write(to: URL(fileURLWithPath: path))
}

/// `values` stored as `dtype` (F32, F16, BF16 by truncation, F64), little-endian.
func storedBytes(_ values: [Float], as dtype: String) -> [UInt8] {
    var out: [UInt8] = []
    for v in values {
        switch dtype {
        case "F16": withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        case "BF16": withUnsafeBytes(of: UInt16(v.bitPattern >> 16).littleEndian) { out.append(contentsOf: $0) }
        case "F64": withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
        default: withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) }
        }
    }
    return out
}

/// Vectors in .safetensors files, as activation caches hold them: F32, F16, BF16 and F64, streamed
/// or in memory, one tensor of several, and every file that is not one set of vectors refused.
final class SafetensorsShardsTests: XCTestCase {
    /// 30 rows of 4: values that float16 and bfloat16 hold exactly (multiples of 1/8 up to 8).
    let values: [Float] = (0..<120).map { Float(($0 * 37) % 129 - 64) / 8 }

    func testEveryFloatTypeReadsAsItsFloat32() throws {
        let dir = temporaryDirectory(self)
        for dtype in ["F32", "F16", "BF16", "F64"] {
            try writeSafetensors([("acts", dtype, [30, 4], storedBytes(values, as: dtype))], to: dir + "/\(dtype).safetensors")
            for loading in [Dataset.NPYLoading.automatic, .streamed, .inMemory] {
                let data = try Dataset(npy: [dir + "/\(dtype).safetensors"], loading: loading)
                XCTAssertEqual(data.isStreamed, loading == .streamed, "\(dtype) \(loading)")
                XCTAssertEqual(data.count, 30)
                XCTAssertEqual(data.featureCount, 4)
                XCTAssertEqual(data.floats(0..<30), values, "\(dtype) \(loading)")
            }
        }
        // (batch, seq, d): the leading axes flattened into rows, in order.
        try writeSafetensors([("acts", "BF16", [5, 6, 4], storedBytes(values, as: "BF16"))], to: dir + "/3d.safetensors")
        XCTAssertEqual(try Dataset(npy: [dir + "/3d.safetensors"], loading: .streamed).floats(0..<30), values)
        // Rounding: bfloat16 keeps a float's upper half; a value it cannot hold reads as that half.
        try writeSafetensors([("x", "BF16", [1, 1], storedBytes([1.0 + 1.0 / 256], as: "BF16"))], to: dir + "/round.safetensors")
        XCTAssertEqual(try Dataset(npy: [dir + "/round.safetensors"]).floats(0..<1), [1])
    }

    /// A directory of shards (the rows of all, in name order), gathered across shard boundaries as
    /// float32 .npy shards of the same values are; .npy and .safetensors files may be given together.
    func testShardsReadAsTheirNPYCounterparts() throws {
        let dir = temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/st", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: dir + "/npy", withIntermediateDirectories: false)
        for (name, rows) in [("a", 0..<11), ("b", 11..<12), ("c", 12..<30)] {
            let part = Array(values[(rows.lowerBound * 4)..<(rows.upperBound * 4)])
            try writeSafetensors([("acts", "F16", [rows.count, 4], storedBytes(part, as: "F16"))], to: dir + "/st/\(name).safetensors")
            try NPY.write(part, rows: rows.count, cols: 4, to: dir + "/npy/\(name).npy")
        }
        let streamed = try Dataset(npy: [dir + "/st"])
        let reference = try Dataset(npy: [dir + "/npy"])
        XCTAssertTrue(streamed.isStreamed)
        XCTAssertEqual(streamed.count, 30)
        var rng = SeededGenerator(seed: 5)
        let indices = [10, 11, 12, 29, 0, 11, 11] + (0..<200).map { _ in Int(rng.next() % 30) }
        func gathered(_ data: Dataset) -> [Float] {
            var out = [Float](repeating: .nan, count: indices.count * 4)
            indices.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { data.gather(i, into: $0.baseAddress!) } }
            return out
        }
        XCTAssertEqual(gathered(streamed), gathered(reference))
        XCTAssertEqual(streamed.floats(0..<30), values)
        // The data a resume checks are the files listed, .safetensors as .npy.
        XCTAssertEqual(try DataFingerprint.files([dir + "/st"]).keys.sorted(), ["a", "b", "c"].map { dir + "/st/\($0).safetensors" })
        // .npy and .safetensors files given together (one dtype, one width).
        try writeSafetensors([("acts", "F32", [2, 4], storedBytes(Array(values[0..<8]), as: "F32"))], to: dir + "/f32.safetensors")
        XCTAssertEqual(try Dataset(npy: [dir + "/f32.safetensors", dir + "/npy/b.npy"]).floats(0..<3), Array(values[0..<8] + values[44..<48]))
        XCTAssertThrowsError(try Dataset(npy: [dir + "/st/a.safetensors", dir + "/npy/b.npy"])) {
            XCTAssertTrue("\($0)".contains("holds float32 values but \(dir)/st/a.safetensors holds float16"), "\($0)")
        }
        // In a directory holding both, the .npy shards are the vectors (as before .safetensors
        // shards were read: a model's weights or a checkpoint beside them is not data).
        try writeSafetensors([("w", "F32", [2, 4], storedBytes(Array(values[0..<8]), as: "F32"))], to: dir + "/npy/weights.safetensors")
        XCTAssertEqual(try Dataset(npy: [dir + "/npy"]).count, 30)
    }

    /// A file of several tensors (activations of two layers, token ids): one is named, each check
    /// names the file and what to do.
    func testOneTensorOfSeveralAndEveryRefusal() throws {
        let dir = temporaryDirectory(self)
        let ids = (0..<30).flatMap { i in withUnsafeBytes(of: Int64(i).littleEndian) { Array($0) } }
        try writeSafetensors([("ids", "I64", [30], ids), ("resid", "BF16", [30, 4], storedBytes(values, as: "BF16")),
                              ("mlp_out", "F32", [30, 2], storedBytes(Array(values[0..<60]), as: "F32"))], to: dir + "/acts.safetensors")
        let path = dir + "/acts.safetensors"
        XCTAssertEqual(try Dataset(npy: [path], tensor: "resid").floats(0..<30), values)
        XCTAssertEqual(try Dataset(npy: [path], loading: .streamed, tensor: "mlp_out").featureCount, 2)
        func refused(_ paths: [String], tensor: String? = nil, _ reason: String, line: UInt = #line) {
            for loading in [Dataset.NPYLoading.automatic, .streamed] {
                XCTAssertThrowsError(try Dataset(npy: paths, loading: loading, tensor: tensor), line: line) {
                    XCTAssertTrue("\($0)".contains(reason), "\($0)", line: line)
                    XCTAssertFalse("\($0)".contains("\n"), line: line)
                }
            }
        }
        refused([path], "holds 3 tensors (ids [30], mlp_out [30, 2], resid [30, 4]): name the one of vectors with --tensor")
        refused([path], tensor: "attn", "has no tensor \"attn\" (its tensors: ids [30], mlp_out [30, 2], resid [30, 4])")
        refused([path], tensor: "ids", "tensor \"ids\" has dtype I64: vectors must be F32, F16, BF16 or F64")
        try writeSafetensors([("x", "F32", [6], storedBytes(Array(values[0..<6]), as: "F32"))], to: dir + "/1d.safetensors")
        refused([dir + "/1d.safetensors"], "tensor \"x\" has shape [6]: vectors need (samples, features)")
        try writeSafetensors([("x", "F32", [0, 4], [])], to: dir + "/empty.safetensors")
        refused([dir + "/empty.safetensors"], "tensor \"x\" holds no rows")
        try writeSafetensors([], to: dir + "/none.safetensors")
        refused([dir + "/none.safetensors"], "holds no tensors")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/short.safetensors"))
        refused([dir + "/short.safetensors"], "too short for safetensors")
        // A tensor name for .npy files would go unused.
        try NPY.write(values, rows: 30, cols: 4, to: dir + "/a.npy")
        refused([dir + "/a.npy"], tensor: "resid", "is not .safetensors, but a tensor name (\"resid\") was given")
        refused([dir + "/a.npy", dir + "/a.npy"], tensor: "resid", "no file is .safetensors")
        // Shards of different widths or dtypes.
        try FileManager.default.createDirectory(atPath: dir + "/mixed", withIntermediateDirectories: false)
        try writeSafetensors([("x", "F16", [30, 4], storedBytes(values, as: "F16"))], to: dir + "/mixed/a.safetensors")
        try writeSafetensors([("x", "BF16", [30, 4], storedBytes(values, as: "BF16"))], to: dir + "/mixed/b.safetensors")
        refused([dir + "/mixed"], "holds bfloat16 values but \(dir)/mixed/a.safetensors holds float16: every shard needs the same dtype")
        try writeSafetensors([("x", "F16", [20, 6], storedBytes(values, as: "F16"))], to: dir + "/mixed/b.safetensors")
        refused([dir + "/mixed"], "has 6 features per row but \(dir)/mixed/a.safetensors has 4")
    }
}
