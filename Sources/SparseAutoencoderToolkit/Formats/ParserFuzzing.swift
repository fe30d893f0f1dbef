import Foundation
import SparseAutoencoder

/// The entry points that the fuzz targets (`make fuzz`, Fuzz/) and the corpus replay test drive:
/// each feeds arbitrary bytes to one parser. Any outcome but a thrown error or a result (a trap,
/// a hang, a sanitizer report) is a bug.
///
/// Internal, not API: scripts/fuzz.sh compiles Fuzz/FuzzMain.swift into this module, and the
/// corpus test reaches it with `@testable import`.
enum ParserFuzzing {
    static let targets = ["idx", "safetensors", "config", "npy"]

    static func run(_ target: String, _ bytes: [UInt8]) {
        _ = try? parse(target, bytes)
    }

    /// What `run` does, with the outcome: returns when the parser accepted the bytes, throws its
    /// error when it refused them (the corpus replay test checks both).
    static func parse(_ target: String, _ bytes: [UInt8]) throws {
        switch target {
        case "idx":
            // As `IDX.read` does: gunzip when it looks gzip'd, then parse.
            let raw = Gzip.isGzip(bytes) ? try Gzip.decompress(bytes, name: "input") : bytes
            _ = try IDX.parse(raw, name: "input")
        case "safetensors":
            _ = try Safetensors.decode(bytes, name: "input")
        case "config":
            _ = try RunConfig.decode(Data(bytes), name: "input")
        case "npy":
            _ = try NPY.decode(bytes, name: "input")
        default:
            preconditionFailure("unknown fuzz target \(target)")
        }
    }
}
