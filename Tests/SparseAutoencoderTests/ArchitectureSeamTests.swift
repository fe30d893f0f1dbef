import Foundation
import XCTest
@testable import SparseAutoencoder

/// The registry is the one place the rest of sae learns of an architecture: its name, settings
/// (in config.json under its key), help and sweep come from its file.
final class ArchitectureSeamTests: XCTestCase {
    /// Every architecture's config, settings included, survives config.json (snake-cased keys, as
    /// run directories write them); an unknown name is refused with the known ones.
    func testConfigsRoundTripWithTheirSettings() throws {
        let encoder = JSONEncoder(), decoder = JSONDecoder()
        (encoder.keyEncodingStrategy, decoder.keyDecodingStrategy) = (.convertToSnakeCase, .convertFromSnakeCase)
        var configs: [AutoencoderConfig] = [.tutorial(.l1(lambda: 1e-5)), .dictionary(inputSize: 6, codeSize: 12, topK: 3)]
        for architecture in AutoencoderConfig.Architecture.allCases where architecture.selectsItsCode {
            var config = AutoencoderConfig.dictionary(inputSize: 6, codeSize: 12)
            (config.architecture, config.topK) = (architecture, architecture.takesK ? 3 : nil)
            if architecture == .jumprelu { config.jumpReLU = JumpReLUSettings(bandwidth: 0.01, coefficient: 2, targetL0: 5) }
            if architecture == .matryoshka { config.groups = [4, 8] }
            if architecture == .gated { config.gateL1 = 0.25 }
            try config.validate()
            configs.append(config)
        }
        XCTAssertEqual(configs.count, 2 + Architectures.all.count - 1, "every architecture but TopK (a dictionary) has its name")
        for config in configs {
            let json = try encoder.encode(config)
            XCTAssertEqual(try decoder.decode(AutoencoderConfig.self, from: json), config, String(decoding: json, as: UTF8.self))
        }
        // The settings' keys as earlier versions wrote them.
        let keys = try configs.map { try JSONSerialization.jsonObject(with: encoder.encode($0)) as! [String: Any] }.map { Set($0.keys) }
        XCTAssertTrue(keys.contains { $0.contains("jumprelu") } && keys.contains { $0.contains("groups") } && keys.contains { $0.contains("gate_l1") })
        // Different settings, different configs.
        var other = configs.last!
        other.gateL1 = 0.5
        XCTAssertNotEqual(other, configs.last!)
        let unknown = String(decoding: try encoder.encode(configs[1]), as: UTF8.self).replacingOccurrences(of: "\"dictionary\"", with: "\"ghost\"")
        XCTAssertThrowsError(try decoder.decode(AutoencoderConfig.self, from: Data(unknown.utf8))) {
            XCTAssertTrue("\($0)".contains("unknown architecture \\\"ghost\\\"") || "\($0)".contains("unknown architecture \"ghost\""), "\($0)")
        }
    }

    /// `--architecture`'s values and help, and the sweep's names, are the registry's.
    func testNamesHelpAndSweepComeFromTheRegistry() {
        let names = AutoencoderConfig.Architecture.allCases.map(\.rawValue)
        XCTAssertEqual(names, ["mirrored", "dictionary", "batchtopk", "jumprelu", "matryoshka", "gated"])
        XCTAssertEqual(Set(names).count, names.count)
        for name in names { XCTAssertTrue(AutoencoderConfig.Architecture.help.contains("\(name) ("), name) }
        XCTAssertNil(AutoencoderConfig.Architecture(rawValue: "ghost"))
        XCTAssertEqual(AutoencoderConfig.sweptArchitectures, ["topk", "batchtopk", "jumprelu", "matryoshka", "gated", "standard"])
        var config = AutoencoderConfig.dictionary(named: "matryoshka", inputSize: 4, codeSize: 16)
        AutoencoderConfig.sweep(of: "matryoshka")!.apply(&config, 3, ["groups": [0.25, 0.75]])
        XCTAssertEqual([config.topK, config.groups?.count], [3, 2])
        XCTAssertEqual(config.groups, [4, 12])
        XCTAssertNoThrow(try config.validate())
    }
}
