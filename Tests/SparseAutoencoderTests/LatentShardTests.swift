import XCTest
@testable import SparseAutoencoder

/// A latent shard's model is its rows of the whole dictionary, and its runs place them exactly.
final class LatentShardTests: XCTestCase {
    let configs = [AutoencoderConfig.dictionary(inputSize: 7, codeSize: 23, topK: 3, auxK: AuxK(k: 5)),
                   { var c = AutoencoderConfig.dictionary(inputSize: 7, codeSize: 23, topK: 3); c.outputSize = 4; return c }(),
                   { var c = AutoencoderConfig.dictionary(inputSize: 7, codeSize: 23); (c.architecture, c.topK) = (.batchtopk, 3); return c }(),
                   { var c = AutoencoderConfig.dictionary(inputSize: 7, codeSize: 23); (c.architecture, c.topK, c.groups) = (.matryoshka, 3, [4, 12, 7]); return c }()]

    /// A rank's part of each Matryoshka group: none of a group on other ranks.
    func testMatryoshkaGroupsAreCutToEachShard() throws {
        let config = configs[3]
        func groupSizes(_ rank: Int, of ranks: Int) throws -> [Int] {
            let whole = try Autoencoder(config: config)
            let cut = whole.selection!.cut(to: try LatentShard(rank: rank, ranks: ranks, config: config)) as! Matryoshka
            return zip([0] + cut.ends, cut.ends).map { Int($1 - $0) }
        }
        XCTAssertEqual(try (0..<3).map { try groupSizes($0, of: 3) }, [[4, 4, 0], [0, 8, 0], [0, 0, 7]])
        XCTAssertEqual(try (0..<2).map { try groupSizes($0, of: 2) }, [[4, 8, 0], [0, 4, 7]])
        XCTAssertEqual(try LatentShard(rank: 1, ranks: 3, config: config).local.groups, [8])
    }

    /// Each rank draws exactly the whole model's rows of its latents (the generator advanced past
    /// the others'), and b_dec alike.
    func testShardsStartAsTheirRowsOfTheWholeModel() throws {
        for config in configs {
            let whole = try Autoencoder(config: config, seed: 9)
            let (enc, dec) = (whole.layers[0], whole.layers[1])
            for ranks in [1, 2, 3, 7] {
                for rank in 0..<ranks {
                    let shard = try LatentShard(rank: rank, ranks: ranks, config: config)
                    let part = try Autoencoder(shard: shard, seed: 9, communicator: .single)
                    XCTAssertEqual(part.config.codeSize, shard.latents.count)
                    for (i, j) in shard.latents.enumerated() {
                        for x in 0..<config.inputSize {
                            XCTAssertEqual(part.parameters[part.layers[0].kernelIndex(input: x, output: i)], whole.parameters[enc.kernelIndex(input: x, output: j)])
                        }
                        for y in 0..<config.targetSize {
                            XCTAssertEqual(part.parameters[part.layers[1].kernelIndex(input: i, output: y)], whole.parameters[dec.kernelIndex(input: j, output: y)])
                        }
                    }
                }
            }
        }
    }

    /// The ranks' runs of every tensor of the whole model (and of a flat buffer of its parameters)
    /// cover each element once, from the local element that holds it; b_dec is rank 0's to write
    /// and everyone's to read.
    func testRunsCoverTheWholeModelOnce() throws {
        for config in configs {
            let whole = try Autoencoder(config: config, seed: 2)
            let fileTensors = Dictionary(uniqueKeysWithValues: whole.namedTensors.map { ($0.name, $0.tensor) })
            let ranks = 3
            var written: [String: [Float?]] = fileTensors.mapValues { [Float?](repeating: nil, count: $0.values.count) }
            var flat = [Float?](repeating: nil, count: whole.parameterCount)
            for rank in 0..<ranks {
                let shard = try LatentShard(rank: rank, ranks: ranks, config: config)
                let part = try Autoencoder(shard: shard, seed: 2, communicator: .single)
                for tensor in shard.modelTensors(part) {
                    XCTAssertEqual(fileTensors[tensor.name]?.shape, tensor.shape)
                    for run in tensor.runs {
                        for i in 0..<run.count {
                            XCTAssertNil(written[tensor.name]![run.offset + i], "\(tensor.name)[\(run.offset + i)] written twice")
                            written[tensor.name]![run.offset + i] = part.parameters[run.local + i * run.stride]
                        }
                    }
                }
                XCTAssertEqual(shard.modelTensors(part, reading: true).last?.runs.count, 1, "every rank reads b_dec")
                let (count, runs) = shard.flatRuns(part)
                XCTAssertEqual(count, whole.parameterCount)
                for run in runs {
                    for i in 0..<run.count {
                        XCTAssertNil(flat[run.offset + i])
                        flat[run.offset + i] = part.parameters[run.local + i * run.stride]
                    }
                }
            }
            for (name, values) in written { XCTAssertEqual(values.map { $0 ?? .nan }, fileTensors[name]!.values, name) }
            XCTAssertEqual(flat.map { $0 ?? .nan }, Array(whole.parameters), "the flat runs")
        }
    }

    func testWhatCannotBeShardedIsRefused() {
        var jumpReLU = AutoencoderConfig.dictionary(inputSize: 8, codeSize: 32)
        (jumpReLU.architecture, jumpReLU.jumpReLU) = (.jumprelu, JumpReLUSettings(targetL0: 4))
        XCTAssertThrowsError(try LatentShard(rank: 0, ranks: 2, config: jumpReLU)) { XCTAssertTrue("\($0)".contains("a jumprelu SAE is not split yet"), "\($0)") }
        XCTAssertThrowsError(try LatentShard(rank: 0, ranks: 2, config: .dictionary(inputSize: 8, codeSize: 32))) { XCTAssertTrue("\($0)".contains("a relu dictionary"), "\($0)") }
        XCTAssertThrowsError(try LatentShard(rank: 0, ranks: 9, config: .dictionary(inputSize: 8, codeSize: 32, topK: 4))) {
            XCTAssertTrue("\($0)".contains("each of the 9 ranks would hold 3 latents, fewer than k = 4: use at most 8 ranks"), "\($0)")
        }
    }
}
