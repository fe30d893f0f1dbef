import Foundation
import XCTest
import SparseAutoencoder
import SparseAutoencoderToolkit

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
        // latents on 2-wide vectors (4.2 million parameters) pass it and go on to read the data
        // (here a validation file that is missing: the next refusal, in milliseconds rather than
        // the seconds training them takes).
        try NPY.write(randomFloats(8 * 2, seed: 1), rows: 8, cols: 2, to: dir + "/narrow.npy")
        assertFails(try sae("train", "--data-npy", dir + "/narrow.npy", "--val-npy", dir + "/missing.npy", "--code", "700000", "--k", "2",
                            "--out", dir + "/wide"), mentioning: "missing.npy: does not exist")
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

    /// Every error is one line on standard error (issue 23): argument-parser's usage errors too,
    /// which it prints in three or four lines (the error, "Help:", the usage, "See ..."); they
    /// keep their status, 64, and name the help to read. Help and --version still go to standard
    /// output with status 0.
    func testEveryErrorIsOneLineOnStandardError() throws {
        let dir = temporaryDirectory(self)
        for (arguments, status, text, help) in [
            (["train", "--bogus"], 64, "Error: Unknown option '--bogus'", "sae train"),
            (["train", "--epochs", "x"], 64, "Error: The value 'x' is invalid for '--epochs <epochs>'", "sae train"),
            (["train", "--penalty", "foo"], 64, "Please provide one of 'l1', 'kl' or 'none'.", "sae train"),
            (["analyze"], 64, "Error: Missing expected argument '<run-directory>'", "sae analyze"),
            (["trian"], 64, "Error: Unexpected argument 'trian'", "sae"),
            // A ValidationError from validate() and from run() (whose help the parser named as the root's).
            (["train", "--resume", dir + "/r", "--batch-size", "3"], 64, "Error: --resume takes every setting from the run's config.json; drop --batch-size", "sae train"),
            (["sweep", "--architecture", "topk", "--out", dir + "/s"], 64, "Error: --architecture compares dictionary SAEs on your vectors", "sae sweep"),
            (["sweep", "--groups", "0.5,0.5", "--out", dir + "/s"], 64, "Error: --groups sets an architecture of an architecture sweep", "sae sweep"),
        ] as [([String], Int32, String, String)] {
            let r = try runSAE(arguments)
            XCTAssertEqual(r.status, status, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains(text), "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasSuffix(" (see '\(help) --help')\n"), "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(arguments)")
        }
        // A refusal: status 1, one line, no usage hint.
        let refusal = try sae("encode", dir + "/nothing", "--out", dir + "/c.npy")
        XCTAssertEqual(refusal.status, 1, refusal.stderr)
        XCTAssertEqual(refusal.stderr, "Error: \(dir)/nothing is not a run directory (no config.json); train one with `sae train --out \(dir)/nothing`\n")
        // Help, --version and no arguments at all: standard output, status 0.
        for arguments in [["--help"], ["train", "--help"], ["help", "sweep"], ["--version"], []] {
            let r = try runSAE(arguments)
            XCTAssertEqual(r.status, 0, "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stderr, "", "\(arguments)")
            XCTAssertTrue(r.stdout.hasPrefix(arguments == ["--version"] ? "sae " : "OVERVIEW: "), "\(arguments): \(r.stdout.prefix(200))")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/s"))
    }

    /// `--auxk` above the width of the vectors warns in one line and trains (issue 23): Gao et al.
    /// take half the width; at or below the width there is no warning.
    func testAuxKAboveTheInputWidthWarnsAndTrains() throws {
        let dir = temporaryDirectory(self)
        try NPY.write(randomFloats(200 * 8, seed: 3), rows: 200, cols: 8, to: dir + "/v.npy")
        func train(auxK: Int) throws -> CommandResult {
            try sae("train", "--data-npy", dir + "/v.npy", "--code", "32", "--k", "2", "--auxk", "\(auxK)", "--epochs", "1",
                    "--batch-size", "64", "--out", dir + "/aux\(auxK)")
        }
        let above = try train(auxK: 9)
        XCTAssertEqual(above.status, 0, above.stderr)
        XCTAssertEqual(above.stderr.split(separator: "\n").count, 1, above.stderr)
        XCTAssertTrue(above.stderr.hasPrefix("Warning: --auxk 9 is above the input width (8 features)") && above.stderr.contains("half of it (4,"),
                      above.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/aux9").loadStatus().state, .finished)
        let at = try train(auxK: 8)
        XCTAssertEqual(at.status, 0, at.stderr)
        XCTAssertEqual(at.stderr, "")
    }

    /// The man page's ENVIRONMENT names every environment variable the sources read, and nothing
    /// else (the README's table names the same); its EXIT STATUS lists the statuses sae exits
    /// with, among them those a usage error and a refusal really return (issue 23).
    func testTheManPageListsEveryEnvironmentVariableAndExitStatus() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        func matches(_ pattern: String, in text: String) -> [String] {
            let regex = try! NSRegularExpression(pattern: pattern)
            return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).flatMap { match in
                (1..<match.numberOfRanges).compactMap { Range(match.range(at: $0), in: text).map { String(text[$0]) } }
            }
        }
        // What the sources read: environment["X"] and env["X"] in Swift, getenv("X") in C.
        var read = Set<String>()
        let files = (FileManager.default.enumerator(atPath: root + "/Sources")?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".swift") || $0.hasSuffix(".c") }
        for file in files {
            let text = try String(contentsOfFile: root + "/Sources/" + file, encoding: .utf8)
            read.formUnion(matches(#"(?:environment|env)\["([A-Z][A-Z0-9_]*)"\]|getenv\("([A-Z][A-Z0-9_]*)"\)"#, in: text))
        }
        XCTAssertTrue(read.isSuperset(of: ["SAE_THREADS", "SAE_MPI", "SAE_DATA", "SAE_KERNELS", "SAE_OPENBLAS_LIBRARY", "OPENBLAS_CORETYPE", "SAE_FAULT"]),
                      "the scan misses variables: \(read.sorted())")

        let page = try sae("generate-manual")
        XCTAssertEqual(page.status, 0, page.stderr)
        func section(_ name: String) -> String {
            guard let start = page.stdout.range(of: "\n.Sh \(name)\n") else { XCTFail("no \(name) section"); return "" }
            let rest = page.stdout[start.upperBound...]
            return String(rest[..<(rest.range(of: "\n.Sh ")?.lowerBound ?? rest.endIndex)])
        }
        // Build-time only (Plugins/BuildInfo), outside Sources: listed too.
        let listed = Set(matches(#"Ev \\&([A-Z][A-Z0-9_]*)"#, in: section("ENVIRONMENT")))
        XCTAssertEqual(read.subtracting(listed), [], "read by sae but not in the man page's ENVIRONMENT")
        XCTAssertEqual(listed.subtracting(read), ["SAE_VERSION"], "in the man page's ENVIRONMENT but read nowhere")
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let table = try XCTUnwrap(readme.components(separatedBy: "\n### Environment\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let rows = table.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { $0.dropFirst(2).prefix { $0 != "|" } }
        XCTAssertEqual(Set(rows.flatMap { matches("`([A-Z][A-Z0-9_]*)`", in: String($0)) }), listed, "the README's environment table")

        let statuses = section("EXIT STATUS").split(separator: "\n").filter { $0.hasPrefix(".It ") }
            .map { $0.dropFirst(4).replacingOccurrences(of: "\\&", with: "").replacingOccurrences(of: "\"", with: "") }
        XCTAssertEqual(statuses, ["0", "1", "64", "129, 130, 143"])
        let usage = try sae("train", "--bogus"), refusal = try sae("encode", "/nonexistent-run", "--out", "/dev/null")
        XCTAssertEqual([usage.status, refusal.status], [64, 1], usage.stderr + refusal.stderr)
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

    /// `train --resume` refuses every setting option the command has (from its own help dump, so a
    /// new option is covered without being listed), by name, before reading the run.
    func testResumeRefusesEverySettingOption() throws {
        let dump = try runSAE(["train", "--experimental-dump-help"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let command = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])?["command"] as? [String: Any])
        let arguments = try XCTUnwrap(command["arguments"] as? [[String: Any]])
        let allowed: Set<String> = ["resume", "epochs", "accept-changed-data", "data", "summary", "help", "version"]
        var checked = 0
        for argument in arguments {
            guard let kind = argument["kind"] as? String, kind != "positional",
                  let name = (argument["names"] as? [[String: Any]])?.compactMap({ $0["kind"] as? String == "long" ? $0["name"] as? String : nil }).first,
                  !allowed.contains(name) else { continue }
            let value = (argument["allValues"] as? [String])?.first ?? "1"
            let option = kind == "flag" ? ["--\(name)"] : ["--\(name)", value]
            let r = try runSAE(["train", "--resume", "/nonexistent/run"] + option)
            XCTAssertEqual(r.status, 64, "\(option): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--resume takes every setting from the run's config.json; drop --\(name)"), "\(option): \(r.stderr)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 40, "the help dump's options were not read")
    }
}
