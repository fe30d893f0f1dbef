import Foundation
import XCTest
import SparseAutoencoder

/// The `sae` tool end to end: exit codes, one-line errors, and a tiny train → encode → metrics flow.
final class SAECommandTests: XCTestCase {
    func sae(_ arguments: String...) throws -> CommandResult { try runSAE(arguments) }

    func assertFails(_ r: CommandResult, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
        assertCommandFails(r, mentioning: text, file: file, line: line)
    }

    func testKLOnAReluCodeIsRefusedBeforeAnythingIsWritten() throws {
        let out = temporaryDirectory(self) + "/run"
        let r = try sae("train", "--penalty", "kl", "--code-activation", "relu", "--out", out)
        assertFails(r, mentioning: "relu outputs can exceed 1")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testBadSettingsAndPathsGiveErrors() throws {
        let dir = temporaryDirectory(self)
        assertFails(try sae("train", "--penalty", "kl", "--rho", "2", "--out", dir + "/a"), mentioning: "--rho")
        assertFails(try sae("train", "--epochs", "0", "--out", dir + "/a"), mentioning: "--epochs")
        assertFails(try sae("train", "--hidden", "12,x", "--out", dir + "/a"), mentioning: "--hidden")
        assertFails(try sae("train", "--hidden", "100000000,100000000", "--out", dir + "/a"), mentioning: "billion parameters, more than the 1073741824")
        // The limit applies to the vectors' width, not to the 784 of Fashion-MNIST: 700,000
        // latents on 2-wide vectors (4.2 million parameters) train.
        try NPY.write(randomFloats(8 * 2, seed: 1), rows: 8, cols: 2, to: dir + "/narrow.npy")
        let wide = try sae("train", "--data-npy", dir + "/narrow.npy", "--code", "700000", "--k", "2", "--epochs", "1", "--batch-size", "4",
                           "--out", dir + "/wide")
        XCTAssertEqual(wide.status, 0, wide.stderr)
        assertFails(try sae("train", "--batch-size", "0", "--out", dir + "/a"), mentioning: "--batch-size")
        assertFails(try sae("train", "--learning-rate", "-1", "--out", dir + "/a"), mentioning: "--learning-rate")
        assertFails(try sae("train", "--penalty", "l1", "--l1", "-1", "--out", dir + "/a"), mentioning: "--l1")
        assertFails(try sae("train", "--penalty", "kl", "--beta", "-1", "--out", dir + "/a"), mentioning: "--beta")
        assertFails(try sae("train", "--data", dir, "--out", dir + "/a"), mentioning: "does not hold Fashion-MNIST")
        assertFails(try sae("encode", dir + "/nothing", "--out", dir + "/c.npy"), mentioning: "is not a run directory")
        // An --out that cannot be a directory (below a regular file; root ignores permissions).
        try AtomicFile.write("x", to: dir + "/file")
        assertFails(try sae("train", "--epochs", "1", "--train-limit", "100", "--data", fashionMini,
                            "--out", dir + "/file/run"), mentioning: "cannot create")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a"))
    }

    /// Every command's examples survive `--help`'s wrapping at 80 columns (its width when piped):
    /// each on lines of its own, a long one continued with " \\" onto an indented line, never cut
    /// mid-command into the next line's prose.
    func testHelpExamplesAreNeverWrappedMidCommand() throws {
        let top = try sae("--help").stdout
        let commands = top.components(separatedBy: "SUBCOMMANDS:\n").last!.split(separator: "\n")
            .compactMap { $0.hasPrefix("  ") ? $0.split(separator: " ").first.map(String.init) : nil }
        XCTAssertGreaterThanOrEqual(commands.count, 10, top)
        var examples = 0
        for command in commands {
            let lines = try sae(command, "--help").stdout.components(separatedBy: "\n")
            for (i, line) in lines.enumerated() {
                XCTAssertFalse(line.hasPrefix("Example: sae"), "\(command): an example after its label: \(line)")
                let continues = line.hasSuffix(" \\")
                guard line.hasPrefix("  sae ") || (i > 0 && lines[i - 1].hasSuffix(" \\")) else { continue }
                examples += 1
                guard i + 1 < lines.count else { continue }
                let next = lines[i + 1]
                if continues {
                    XCTAssertTrue(next.hasPrefix("    "), "\(command): a continued example's next line is not indented: \(next)")
                } else {
                    XCTAssertTrue(next.isEmpty || next.hasPrefix(" ") || next.first!.isUppercase,
                                  "\(command): an example wrapped into the next line: \(line) | \(next)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(examples, 15)
    }

    func testSummaryPrintsTheModel() throws {
        let r = try sae("summary", "--penalty", "kl", "--code", "32")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("code (Dense, sigmoid)") && r.stdout.contains("(None, 32)"), r.stdout)
    }

    func testTrainEncodeReconstructAndMetricsOnASmallRun() throws {
        let dir = temporaryDirectory(self)
        let run = dir + "/kl"
        let train = try sae("train", "--penalty", "kl", "--epochs", "2", "--train-limit", "150", "--hidden", "32",
                            "--code", "8", "--batch-size", "64", "--data", fashionMini, "--out", run)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("Training kl (rho 0.05, beta 3.0) on 150 images of Fashion-MNIST, validating on its 100 test images, into \(run)\n"), train.stdout)
        // Piped, progress is one finished line per epoch: nothing rewritten in place.
        XCTAssertTrue(train.stdout.contains("Epoch 1/2\n3/3 ━━━━━━━━━━━━━━━━━━━━ ") && train.stdout.contains("Epoch 2/2\n3/3 "), train.stdout)
        XCTAssertEqual(train.stdout.components(separatedBy: " - val_loss: ").count - 1, 2, train.stdout)
        XCTAssertFalse(train.stdout.contains("\r") || train.stdout.contains("\u{1B}") || train.stdout.contains("ETA"), train.stdout)
        for file in ["config.json", "model.safetensors", "history.json", "metrics.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + file), file)
        }
        let again = try sae("train", "--penalty", "kl", "--epochs", "1", "--out", run)
        assertFails(again, mentioning: "--force")

        let encode = try sae("encode", run, "--out", dir + "/codes.npy", "--data", fashionMini)
        XCTAssertEqual(encode.status, 0, encode.stderr)
        let size = try FileManager.default.attributesOfItem(atPath: dir + "/codes.npy")[.size] as! Int
        XCTAssertEqual(size, 128 + 100 * 8 * 4)   // the test set's codes
        let reconstruct = try sae("reconstruct", run, "--out", dir + "/recon.npy", "--data", fashionMini)
        XCTAssertEqual(reconstruct.status, 0, reconstruct.stderr)

        let metrics = try sae("metrics", run)
        XCTAssertEqual(metrics.status, 0, metrics.stderr)
        XCTAssertTrue(metrics.stdout.contains("final val_loss") && metrics.stdout.contains("kl"), metrics.stdout)

        let analyze = try sae("analyze", run, "--no-probe", "--data", fashionMini)
        XCTAssertEqual(analyze.status, 0, analyze.stderr)
        XCTAssertTrue(analyze.stdout.contains("Hoyer sparsity") && analyze.stdout.contains("Ankle boot"), analyze.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/figures/unit_images.png"))
        let report = try sae("report", run, "--out", dir + "/report", "--no-probe", "--data", fashionMini)
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/report/report.html"))
        assertFails(try sae("compare", run, "--out", dir + "/c"), mentioning: "at least two")
    }
}
