import Foundation
import SparseAutoencoder
import XCTest

/// The getting-started article (Sources/SparseAutoencoder/SparseAutoencoder.docc/GettingStarted.md)
/// cannot rot (issue 13, part 4): its code blocks are the `GettingStarted` example's
/// (Examples/GettingStarted/main.swift) `// article: begin` ... `// article: end` regions, character
/// for character and in order, and the example, built next to the tests like `sae`, runs on the
/// Fashion-MNIST fixture and prints numbers that make sense.
final class ExampleTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let article = root + "/Sources/SparseAutoencoder/SparseAutoencoder.docc/GettingStarted.md"
    static let example = root + "/Examples/GettingStarted/main.swift"

    /// The contents of the article's ```swift fences.
    static func articleBlocks(_ text: String) -> [String] {
        var blocks: [String] = [], current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n") + "\n")
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        return blocks
    }

    /// The example's regions between `// article: begin` and `// article: end` (marker lines excluded).
    static func exampleRegions(_ text: String) -> [String] {
        var regions: [String] = [], current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "// article: begin" {
                XCTAssertNil(current, "an article region begins inside another")
                current = []
            } else if line == "// article: end" {
                XCTAssertNotNil(current, "an article region ends without beginning")
                regions.append((current ?? []).joined(separator: "\n") + "\n")
                current = nil
            } else if current != nil {
                current!.append(line)
            }
        }
        XCTAssertNil(current, "an article region is not closed")
        return regions
    }

    func testTheArticlesCodeIsTheExamplesCode() throws {
        let blocks = Self.articleBlocks(try String(contentsOfFile: Self.article, encoding: .utf8))
        let regions = Self.exampleRegions(try String(contentsOfFile: Self.example, encoding: .utf8))
        XCTAssertEqual(blocks.count, 2, "the article's swift blocks: the tutorial's models, then the dictionary")
        XCTAssertEqual(blocks.count, regions.count, "as many article blocks as example regions")
        for (i, (block, region)) in zip(blocks, regions).enumerated() {
            XCTAssertEqual(block, region, "the article's swift block \(i + 1) differs from the example's region \(i + 1)")
        }
        // The checker itself: a changed line is caught.
        // The README's library code is the same (issue 23: it had drifted from the example).
        let readme = Self.articleBlocks(try String(contentsOfFile: Self.root + "/README.md", encoding: .utf8))
        XCTAssertEqual(readme, regions, "the README's swift blocks are the example's regions, in order")
        XCTAssertNotEqual(Self.articleBlocks("```swift\nlet a = 1\n```\n"), Self.exampleRegions("// article: begin\nlet a = 2\n// article: end\n"))
        XCTAssertEqual(Self.articleBlocks("text\n```swift\nlet a = 1\n\nlet b = 2\n```\n```sh\nls\n```\n"),
                       Self.exampleRegions("x\n// article: begin\nlet a = 1\n\nlet b = 2\n// article: end\ny\n"))
    }

    /// The numbers after `label` on the line that starts with `prefix`: a list `[a, b, ...]` or one number.
    func numbers(after label: String, onLineStartingWith prefix: String, in output: String,
                 file: StaticString = #filePath, line: UInt = #line) -> [Double] {
        guard let text = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }),
              let range = text.range(of: label) else {
            XCTFail("no line starting with \"\(prefix)\" holding \"\(label)\" in:\n\(output)", file: file, line: line)
            return []
        }
        let rest = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
        if rest.hasPrefix("[") {
            let list = rest.dropFirst().prefix { $0 != "]" }
            return list.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) ?? .nan }
        }
        return [Double(rest.prefix { !$0.isWhitespace }) ?? .nan]
    }

    func assertFallingFinite(_ values: [Double], count: Int, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(values.count, count, "\(what): one value per epoch", file: file, line: line)
        XCTAssertTrue(values.allSatisfy(\.isFinite), "\(what) not finite: \(values)", file: file, line: line)
        for (a, b) in zip(values, values.dropFirst()) {
            XCTAssertLessThan(b, a, "\(what) should fall every epoch: \(values)", file: file, line: line)
        }
    }

    func testTheExampleRunsOnTheFixture() throws {
        let path = try builtExecutable("GettingStarted")
        let dir = temporaryDirectory(self), out = dir + "/out"
        _ = FileManager.default.createFile(atPath: dir + "/stdout", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/stderr", contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["--data", fashionMini, "--epochs", "3", "--vectors", "2048", "--out", out]
        p.standardOutput = FileHandle(forWritingAtPath: dir + "/stdout")
        p.standardError = FileHandle(forWritingAtPath: dir + "/stderr")
        let start = Date()
        try p.run()
        p.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        let stdout = try String(contentsOfFile: dir + "/stdout", encoding: .utf8)
        let stderr = try String(contentsOfFile: dir + "/stderr", encoding: .utf8)
        XCTAssertEqual(p.terminationStatus, 0, "stdout:\n\(stdout)\nstderr:\n\(stderr)")
        XCTAssertLessThan(seconds, 60, "the example on the fixture should take seconds")

        for name in ["l1", "kl"] {
            assertFallingFinite(numbers(after: "loss by epoch:", onLineStartingWith: name + " loss", in: stdout), count: 3, name + " loss")
            assertFallingFinite(numbers(after: "val_loss:", onLineStartingWith: name + " loss", in: stdout), count: 3, name + " val_loss")
            let bce = numbers(after: "bce", onLineStartingWith: name + " test:", in: stdout).first ?? .nan
            let mse = numbers(after: "mse", onLineStartingWith: name + " test:", in: stdout).first ?? .nan
            let mean = numbers(after: "mean activation", onLineStartingWith: name + " test:", in: stdout).first ?? .nan
            let dead = numbers(after: "quiet units", onLineStartingWith: name + " test:", in: stdout).first ?? .nan
            // Three Adam steps from the start: still near log 2 (BCE of a 0.5 output), but below it.
            XCTAssertTrue(bce > 0.3 && bce < log(2.0), "\(name) test bce \(bce)")
            XCTAssertTrue(mse > 0 && mse < 0.25, "\(name) test mse \(mse)")
            XCTAssertTrue(mean > 0 && mean.isFinite, "\(name) mean activation \(mean)")
            XCTAssertTrue(dead >= 0 && dead <= 64, "\(name) quiet units \(dead)")
        }
        // The KL model's code is sigmoid: every value in (0, 1), so its mean is too.
        XCTAssertLessThan(numbers(after: "mean activation", onLineStartingWith: "kl test:", in: stdout).first ?? .nan, 1)

        assertFallingFinite(numbers(after: "loss by epoch:", onLineStartingWith: "dictionary", in: stdout), count: 3, "dictionary loss")
        let fvu = numbers(after: "held-out fvu:", onLineStartingWith: "dictionary", in: stdout).first ?? .nan
        XCTAssertTrue(fvu > 0 && fvu < 0.8, "the dictionary should explain most of the variance of sparse sums of directions: fvu \(fvu)")
        let active = numbers(after: "active latents per vector:", onLineStartingWith: "dictionary", in: stdout).first ?? .nan
        XCTAssertTrue(active > 0 && active <= 32, "TopK 32 keeps at most 32 latents: \(active)")

        // The SAELens export: cfg.json and the four tensors, with the shapes the article's config gives.
        let export = out + "/export"
        XCTAssertTrue(stdout.contains("exported for SAELens: \(export)/sae_weights.safetensors \(export)/cfg.json"), stdout)
        let cfg = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: export + "/cfg.json"))) as? [String: Any])
        XCTAssertEqual(cfg["d_in"] as? Int, 64)
        XCTAssertEqual(cfg["d_sae"] as? Int, 512)
        XCTAssertEqual(cfg["k"] as? Int, 32)
        XCTAssertEqual(cfg["architecture"] as? String, "topk")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: export + "/sae_weights.safetensors")))
        let tensors = try Safetensors.decode(bytes, name: "sae_weights.safetensors").tensors
        XCTAssertEqual(tensors["W_enc"]?.shape, [64, 512])
        XCTAssertEqual(tensors["b_enc"]?.shape, [512])
        XCTAssertEqual(tensors["W_dec"]?.shape, [512, 64])
        XCTAssertEqual(tensors["b_dec"]?.shape, [64])
        XCTAssertEqual(try NPY.read(path: out + "/acts.npy").rows, 2048)
    }

    /// Without --out, the example's files go to a temporary directory of its own, removed when it
    /// ends (issue 23: it left /tmp/sae-getting-started-<pid> behind). TMPDIR points it at a
    /// directory of the test's, which must be empty again afterwards.
    func testTheExampleRemovesItsTemporaryDirectory() throws {
        let path = try builtExecutable("GettingStarted")
        let tmp = temporaryDirectory(self)
        let (status, output) = try runProcess(path, ["--data", fashionMini, "--epochs", "1", "--vectors", "256"],
                                              environment: ["TMPDIR": tmp])
        XCTAssertEqual(status, 0, output)
        // It did write there: the export's path is inside TMPDIR.
        XCTAssertTrue(output.contains("exported for SAELens: \(tmp)/sae-getting-started-"), output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp), [], "the example left files in TMPDIR")
    }
}
