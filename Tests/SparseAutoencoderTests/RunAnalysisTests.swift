import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Analysis, comparison and report on two small runs trained on synthetic 8x8 images.
final class RunAnalysisTests: XCTestCase {
    func trainSmallRun(_ dir: String, _ penalty: ActivityPenalty, test: Dataset) throws -> RunDirectory {
        let train = syntheticImages(count: 300, side: 8, seed: 3)
        let config = RunConfig(model: AutoencoderConfig(inputSize: 64, hiddenSizes: [16], codeSize: 6,
                                                        codeActivation: AutoencoderConfig.defaultCodeActivation(for: penalty), penalty: penalty),
                               training: TrainingSettings(epochs: 2, batchSize: 64, seed: 1), data: DataSettings())
        let run = try RunDirectory.create(dir, force: false)
        try TrainingRun.run(config, train: train, test: test, into: run)
        return run
    }

    func testAnalyzeWritesMetricsAndEveryFigure() throws {
        let root = temporaryDirectory(self)
        let test = syntheticImages(count: 120, side: 8, seed: 4)
        let run = try trainSmallRun(root + "/kl", .kl(rho: 0.05, beta: 3), test: test)
        let analysis = try RunAnalysis(run: run, test: test)
        let files = try analysis.write()
        XCTAssertEqual(Set(files.map { ($0 as NSString).lastPathComponent }),
                       ["unit_activation.svg", "code_histogram.svg", "training_curves.svg",
                        "reconstructions.png", "unit_images.png", "first_layer_weights.png"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.metricsPath))) as! [String: Any]
        for key in ["l0", "l0_by_threshold", "never_active_units", "near_zero_fraction", "hoyer_sparsity",
                    "lifetime_sparsity", "unit_lifetime_sparsity", "test_bce_by_class", "test_mse_by_class", "activity_threshold"] {
            XCTAssertNotNil(json[key], key)
        }
        XCTAssertEqual((json["test_bce_by_class"] as! [Double]).count, 10)
        // The per-class errors average back to the overall one.
        let m = analysis.metrics, counts = analysis.evaluation.classCounts
        let weighted = zip(m.testMseByClass, counts).reduce(0) { $0 + $1.0 * Double($1.1) } / Double(counts.reduce(0, +))
        XCTAssertEqual(weighted, m.testMse, accuracy: 1e-9)
        // The statistics are those of the codes. The analysis encodes batch by batch, this check all
        // at once: the products' blocking differs between BLAS kernels, so the codes (and a ratio
        // of their sums) agree to float32's rounding, not bit for bit.
        XCTAssertEqual(m.codes.hoyerSparsity, CodeStatistics(codes: analysis.model.encode(analysis.test), rows: 120, cols: 6).hoyerSparsity,
                       accuracy: 1e-6)
        let svg = try String(contentsOfFile: run.path + "/figures/unit_activation.svg", encoding: .utf8)
        XCTAssertTrue(svg.contains("target ρ = 0.05"), "KL runs mark rho")
    }

    func testCompareAndReport() throws {
        let root = temporaryDirectory(self)
        let test = syntheticImages(count: 100, side: 8, seed: 5)
        let runs = try [trainSmallRun(root + "/l1", .l1(lambda: 1e-3), test: test),
                        trainSmallRun(root + "/kl", .kl(rho: 0.1, beta: 2), test: test)]
        let analyses = try runs.map { try RunAnalysis(run: $0, test: test) }
        let comparison = try Comparison(runs: analyses)
        let files = try comparison.write(to: root + "/compare")
        XCTAssertEqual(Set(files.map { ($0 as NSString).lastPathComponent }),
                       ["unit_activation_comparison.svg", "code_histograms.svg", "reconstructions.png", "comparison.md"])
        XCTAssertTrue(comparison.table.contains("l1") && comparison.table.contains("Hoyer sparsity"))
        // Each run's histogram panel has bins over its own range: its last bin holds its largest
        // value, so the step stands above the floor at the plot's right edge (with bins shared
        // over the joint range, the narrower run's would fall to the floor short of it), and its
        // title says its own range.
        let peaks = analyses.map { Double($0.codeRange.upperBound) }
        XCTAssertGreaterThan(abs(peaks[0] - peaks[1]), 0.1 * peaks.max()!, "the runs' ranges differ: \(peaks)")
        let histograms = try String(contentsOfFile: root + "/compare/code_histograms.svg", encoding: .utf8)
        let paths = histograms.components(separatedBy: "<path d=\"M").dropFirst().map { $0.prefix { $0 != "\"" } }
        XCTAssertEqual(paths.count, 2, "one panel per run")
        for (path, analysis) in zip(paths, analyses) {
            let points = path.split { "MLZ ".contains($0) }.map { $0.split(separator: ",").compactMap { Double($0) } }.filter { $0.count == 2 }
            let floor = points.map { $0[1] }.max()!
            XCTAssertEqual(points.map { $0[0] }.min()!, 72, accuracy: 0.01, "\(analysis.name) starts at the plot's left")
            XCTAssertEqual(points.filter { $0[1] < floor - 1 }.map { $0[0] }.max()!, 760 - 24, accuracy: 0.01,
                           "\(analysis.name)'s counts reach the plot's right edge")
            XCTAssertTrue(histograms.contains(String(format: "%@: 50 bins of %.3g from 0 to %.3g", analysis.name,
                                                     Double(analysis.codeRange.upperBound) / 50, Double(analysis.codeRange.upperBound))),
                          analysis.name)
        }

        let path = try HTMLReport.write(runs: analyses, to: root)
        let html = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertFalse(html.contains("<script"), "no JavaScript")
        XCTAssertFalse(html.contains("src=\"http") || html.contains("href=\"http"), "no network resources")
        // Both runs' figures and the comparison are embedded.
        XCTAssertEqual(html.components(separatedBy: "data:image/png;base64,").count - 1, 3 * 2 + 1)
        XCTAssertEqual(html.components(separatedBy: "<svg xmlns").count - 1, 3 * 2 + (1 + 2) * 2, "the comparison's two figures: a frame and a panel per run")
        let explained = MetricsTable.catalogue(RunWording(analyses.map(\.config))).filter { $0.value(analyses[0].metrics) != "-" }
        XCTAssertGreaterThanOrEqual(explained.count, 10, "the metrics the report must explain")
        for metric in explained {
            XCTAssertTrue(html.contains(HTMLPage.escape(metric.explanation)), metric.label)
        }
        XCTAssertFalse(html.contains("linear probe accuracy"), "no probe was run, so no probe row")
    }

    func testRunsWithTheSameNameAreRefused() throws {
        let root = temporaryDirectory(self)
        let test = syntheticImages(count: 50, side: 8)
        let a = try RunAnalysis(run: trainSmallRun(root + "/a/run", .none, test: test), test: test)
        let b = try RunAnalysis(run: trainSmallRun(root + "/b/run", .none, test: test), test: test)
        XCTAssertThrowsError(try Comparison(runs: [a, b])) { XCTAssertTrue("\($0)".contains("same name"), "\($0)") }
    }
}
