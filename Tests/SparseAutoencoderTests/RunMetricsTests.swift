import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// metrics.json keeps its flat form now that `RunMetrics` holds a `CodeStatistics`.
final class RunMetricsTests: XCTestCase {
    /// A metrics.json written by `sae train` + `sae analyze` before the sparsity statistics were
    /// grouped into `RunMetrics.codes` (fashion-mini, kl, code 4, 2 epochs).
    static let writtenBefore = #"""
{
  "activity_threshold" : 0.001,
  "dead_units" : 0,
  "epochs" : 2,
  "final_loss" : 0.7221025851027714,
  "final_val_loss" : 0.7050902265844573,
  "hoyer_sparsity" : 0.03803639378176782,
  "l0" : 4,
  "l0_by_threshold" : {
    "0.001" : 4,
    "0.01" : 4,
    "0.1" : 2.55
  },
  "lifetime_sparsity" : 0.3034971637611448,
  "mean_activation" : 0.16434933279408143,
  "near_zero_fraction" : 0,
  "never_active_units" : 0,
  "pixel_probe_accuracy" : 0.71,
  "probe_accuracy" : 0.22,
  "seconds_per_epoch" : 0.001149536,
  "test_bce" : 0.6900560394598513,
  "test_bce_by_class" : [
    0.6904084030462772,
    0.689215578351702,
    0.691625672943738,
    0.6891903001434949,
    0.6913775930599291,
    0.68715958887217,
    0.6916943141392299,
    0.6885484656509088,
    0.6915002939652424,
    0.6898401844258211
  ],
  "test_fvu" : 1.9018361159867099,
  "test_mse" : 0.17037842896519875,
  "test_mse_by_class" : [
    0.15308077286700814,
    0.1983208773087482,
    0.1313633227834896,
    0.1855337094287483,
    0.14906675864239127,
    0.2080475515248824,
    0.1414312761657092,
    0.19424270318478953,
    0.1668453936674157,
    0.1758519240788051
  ],
  "train_seconds" : 0.002299072,
  "training_dead_latents" : 0,
  "unit_activation_frequency" : [
    1,
    1,
    1,
    1
  ],
  "unit_lifetime_sparsity" : [
    0.2741532811567445,
    0.30443581291686794,
    0.30689491955120746,
    0.3285046414197591
  ],
  "unit_mean_activations" : [
    0.18737154230475425,
    0.15527643840759991,
    0.16707538414746523,
    0.14767396631650626
  ]
}
"""#

    /// It loads, its numbers land where they belong, and it is written back byte for byte.
    func testMetricsWrittenBeforeLoadAndRewriteUnchanged() throws {
        let metrics = try JSONFile.decode(RunMetrics.self, from: Data(Self.writtenBefore.utf8), name: "metrics.json")
        XCTAssertEqual(metrics.codes.threshold, 0.001)
        XCTAssertEqual(metrics.codes.l0ByThreshold["0.1"], 2.55)
        XCTAssertEqual(metrics.codes.unitMeans.count, 4)
        XCTAssertEqual(metrics.codes.meanActivation, 0.16434933279408143)
        XCTAssertEqual(metrics.probeAccuracy, 0.22)
        XCTAssertEqual(metrics.quietUnits, 0)
        XCTAssertEqual(metrics.deadLatents, 0)
        // Rewritten the same, under the names "dead" has since it has one meaning.
        let renamed = Self.writtenBefore.replacingOccurrences(of: "\"dead_units\"", with: "\"quiet_units\"")
            .replacingOccurrences(of: "\"training_dead_latents\"", with: "\"dead_latents\"")
        let rewritten = try JSONSerialization.jsonObject(with: JSONFile.encode(metrics)) as! NSDictionary
        XCTAssertEqual(rewritten, try JSONSerialization.jsonObject(with: Data(renamed.utf8)) as! NSDictionary)
        // And what is written now is written back byte for byte.
        let now = try JSONFile.encode(metrics)
        XCTAssertEqual(try JSONFile.encode(JSONFile.decode(RunMetrics.self, from: now, name: "metrics.json")), now)
    }

    /// Optional numbers that are absent stay absent (a dictionary SAE before `sae analyze`).
    func testAbsentOptionalsStayAbsent() throws {
        var metrics = try JSONFile.decode(RunMetrics.self, from: Data(Self.writtenBefore.utf8), name: "metrics.json")
        (metrics.testBce, metrics.probeAccuracy, metrics.pixelProbeAccuracy) = (nil, nil, nil)
        let text = String(decoding: try JSONFile.encode(metrics), as: UTF8.self)
        XCTAssertFalse(text.contains("test_bce\""))
        XCTAssertFalse(text.contains("probe_accuracy"))
        XCTAssertEqual(try JSONFile.decode(RunMetrics.self, from: Data(text.utf8), name: "metrics.json"), metrics)
    }
}
