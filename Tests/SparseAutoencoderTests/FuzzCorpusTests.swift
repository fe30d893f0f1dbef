import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Replays the seeds (Fuzz/seeds), every input the fuzzers kept (Fuzz/corpus) and every crash
/// they ever found (Fuzz/crashes) through the parsers: each must end in a result or an error.
final class FuzzCorpusTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func files(_ kind: String, _ target: String) -> [URL] {
        let dir = root.appendingPathComponent("Fuzz/\(kind)/\(target)")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Every file is replayed and counted: each must be accepted or refused with a one-line
    /// `SAEError` (a trap would end the test process); every seed is accepted.
    func testCorpusAndCrashesReplayWithoutTrapping() throws {
        var total = 0
        for target in ParserFuzzing.targets {
            let seeds = files("seeds", target), corpus = files("corpus", target), crashes = files("crashes", target)
            XCTAssertFalse(seeds.isEmpty || corpus.isEmpty, "no seeds or corpus for \(target)")
            var (accepted, refused) = (0, 0)
            for file in seeds + corpus + crashes {
                let bytes = [UInt8](try Data(contentsOf: file))
                do {
                    try ParserFuzzing.parse(target, bytes)
                    accepted += 1
                } catch let error as SAEError {
                    refused += 1
                    XCTAssertFalse(error.message.isEmpty || error.message.contains("\n"), "\(target) \(file.lastPathComponent): \(error.message)")
                } catch {
                    XCTFail("\(target) \(file.lastPathComponent): not an SAEError: \(error)")
                }
            }
            for seed in seeds { XCTAssertNoThrow(try ParserFuzzing.parse(target, [UInt8](Data(contentsOf: seed))), seed.path) }
            XCTAssertEqual(accepted + refused, seeds.count + corpus.count + crashes.count, target)
            total += accepted + refused
        }
        // The corpus as committed (grows when `make fuzz` keeps new inputs).
        XCTAssertGreaterThanOrEqual(total, 426, "replayed \(total) files")
    }

    /// The seeds are valid files: the parsers accept them (so fuzzing starts from real structure).
    func testSeedsParse() throws {
        let seeds = root.appendingPathComponent("Fuzz/seeds")
        XCTAssertEqual(try IDX.read(path: seeds.appendingPathComponent("idx/images.idx.gz").path).shape, [2, 4, 4])
        let model = try Safetensors.decode([UInt8](Data(contentsOf: seeds.appendingPathComponent("safetensors/model.safetensors"))), name: "m")
        XCTAssertEqual(model.tensors["layers.0.kernel"]?.shape, [2, 3])
        XCTAssertNoThrow(try RunConfig.decode(Data(contentsOf: seeds.appendingPathComponent("config/config.json")), name: "c"))
    }
}
