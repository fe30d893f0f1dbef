import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// A run is spoken of in its own words (`RunWording`): a dictionary on vectors has latents and a
/// validation set, the tutorial's models on Fashion-MNIST units, images, pixels and the test set;
/// and "dead" has one meaning: no firing over a stated window of training samples.
final class RunWordingTests: XCTestCase {
    /// The report's text without markup, styles and figures.
    private func reportText(_ runs: [String], in dir: String) throws -> String {
        let report = try runSAE(["report"] + runs + ["--out", dir + "/report", "--no-probe"])
        XCTAssertEqual(report.status, 0, report.stderr)
        var html = try String(contentsOfFile: dir + "/report/report.html", encoding: .utf8)
        for pattern in ["<style[\\s\\S]*?</style>", "<svg[\\s\\S]*?</svg>", "<[^>]+>"] {
            html = html.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        return html
    }

    func testATopKRunOnVectorsIsNamedAndReportedAsOne() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(400 * 6, seed: 5), rows: 400, cols: 6, to: dir + "/x.npy")
        let train = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "3", "--auxk", "4", "--epochs", "1"],
                               workingDirectory: dir)
        XCTAssertEqual(train.status, 0, train.stderr)
        // Named by what it is, in the banner and in the default directory.
        XCTAssertTrue(train.stdout.contains("Training a topk SAE (16 latents, k 3, auxk 4) on 360 vectors of \(dir)/x.npy, validating on 40 held-out rows, into runs/topk\n"),
                      train.stdout)
        XCTAssertTrue(train.stdout.contains("Wrote runs/topk: validation MSE "), train.stdout)
        let analyze = try runSAE(["analyze", dir + "/runs/topk"])
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        let report = try reportText([dir + "/runs/topk"], in: dir)
        for text in [analyze.stdout, report] {
            for tutorialWord in ["pixel", "image", "tutorial", "test MSE", "test FVU", "switched off", "sparsity penalty keeps"] {
                XCTAssertFalse(text.contains(tutorialWord), "'\(tutorialWord)' in: \(text)")
            }
            XCTAssertTrue(text.contains("validation FVU"), text)
            XCTAssertTrue(text.contains("L0 (active latents / vector)"), text)
        }
        // The comparison says what each run is, on the screen and in comparison.md.
        let standard = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--l1", "1e-3", "--epochs", "1"], workingDirectory: dir)
        XCTAssertTrue(standard.stdout.contains("Training a standard SAE (16 latents, l1 (lambda 0.001)) on 360 vectors"), standard.stdout)
        let compare = try runSAE(["compare", dir + "/runs/topk", dir + "/runs/standard", "--out", dir + "/compare"])
        XCTAssertEqual(compare.status, 0, compare.stderr)
        let line = "topk: a topk SAE (16 latents, k 3, auxk 4); 1 epochs x 256, Adam lr 0.001; \(dir)/x.npy (10% held out for validation)"
        XCTAssertTrue(compare.stdout.hasPrefix(line + "\n"), compare.stdout)
        XCTAssertTrue(try String(contentsOfFile: dir + "/compare/comparison.md", encoding: .utf8).contains("- " + line + "\n"))
        // The report shows the architecture's settings.
        for setting in ["a topk SAE (16 latents, k 3, auxk 4)", "k_aux 4", "unit-norm decoder", "none (sparse by selection)"] {
            XCTAssertTrue(report.contains(setting), "'\(setting)' missing from the report: \(report)")
        }
    }

    func testTheTutorialsRunsKeepTheirWords() throws {
        let dir = temporaryDirectory(self)
        let run = dir + "/l1"
        let train = try runSAE(["train", "--data", fashionMini, "--train-limit", "100", "--hidden", "16", "--code", "8", "--epochs", "1", "--out", run])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("Training l1 (lambda 1e-05) on 100 images of Fashion-MNIST, validating on its 100 test images"), train.stdout)
        XCTAssertTrue(train.stdout.contains("quiet units (mean < 1e-3)"), train.stdout)
        let report = try reportText([run], in: dir)
        for text in ["test MSE", "L0 (active units / image)", "per pixel", "the tutorial's headline", "measured on each run's test images",
                     "units the penalty has (nearly) switched off"] {
            XCTAssertTrue(report.contains(text), "'\(text)' missing from the report: \(report)")
        }
        XCTAssertFalse(report.contains("validation FVU"), report)
    }

    /// Dead latents are counted only once the window has been trained: n/a before, a count
    /// (with its window) after; the mean-based count is "quiet", the validation one "never active".
    func testDeadLatentsAreNotAvailableUntilTheirWindowHasPassed() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(300 * 6, seed: 9), rows: 300, cols: 6, to: dir + "/x.npy")
        let early = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "3", "--epochs", "2", "--dead-after", "600",
                                "--out", dir + "/early"])
        XCTAssertEqual(early.status, 0, early.stderr)
        // 2 epochs of 270 training rows: 540 < 600 samples.
        XCTAssertTrue(early.stdout.contains("dead latents n/a (fewer than 600 samples trained)"), early.stdout)
        let history = try RunDirectory(path: dir + "/early").loadHistory()
        XCTAssertEqual(history.map(\.deadLatents), [nil, nil])
        XCTAssertEqual(history.map(\.deadWindow), [600, 600])
        let later = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "16", "--k", "3", "--epochs", "3", "--dead-after", "600",
                                "--out", dir + "/later"])
        XCTAssertEqual(later.status, 0, later.stderr)
        let counted = try RunDirectory(path: dir + "/later").loadHistory()
        XCTAssertEqual(counted.map { $0.deadLatents == nil }, [true, true, false])
        XCTAssertTrue(later.stdout.contains("dead latents \(counted[2].deadLatents!) / 16 (window 600 samples)"), later.stdout)
        let analyze = try runSAE(["analyze", dir + "/early"])
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        XCTAssertTrue(analyze.stdout.contains("dead latents                  n/a (fewer than 600 samples trained)"), analyze.stdout)
        XCTAssertTrue(analyze.stdout.contains("quiet latents (mean < 1e-3)"), analyze.stdout)
        XCTAssertTrue(analyze.stdout.contains("never active on validation"), analyze.stdout)
        XCTAssertFalse(analyze.stdout.contains("dead units"), analyze.stdout)
    }
}
