import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// The feature browser: its one-pass statistics against the simple computation, the same
/// whatever the batches; decoder similarity against brute force; and `sae features` end to end,
/// with the refusals that protect a user's directories.
final class FeatureBrowserTests: XCTestCase {
    /// (rows, c) codes: mostly zeros, values on a few levels (ties), latent 3 never active.
    private func codes(rows: Int, c: Int, seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        return (0..<(rows * c)).map { i in
            let r = rng.nextUnitFloat()
            return i % c == 3 || r < 0.6 ? 0 : Float(Int(r * 20)) * 0.25
        }
    }

    private func gather(_ x: [Float], rows: Int, c: Int, batch: Int, labels: [Int]) -> FeatureStatistics {
        var stats = FeatureStatistics(latents: c, top: 5, sampled: 8, classes: 3)
        x.withUnsafeBufferPointer { p in
            for start in stride(from: 0, to: rows, by: batch) {
                let n = min(batch, rows - start)
                stats.add(p.baseAddress! + start * c, rows: n, labels: labels[start..<(start + n)])
            }
        }
        return stats
    }

    func testStatisticsMatchTheSimpleComputationWhateverTheBatches() {
        let (rows, c) = (300, 37)
        let x = codes(rows: rows, c: c, seed: 5), labels = (0..<rows).map { $0 % 3 }
        let stats = gather(x, rows: rows, c: c, batch: 64, labels: labels)
        XCTAssertEqual(stats.vectors, rows)
        for j in 0..<c {
            let active = (0..<rows).filter { x[$0 * c + j] > 0 }
            XCTAssertEqual(stats.fires[j], active.count)
            XCTAssertEqual(stats.sums[j], active.reduce(0.0) { $0 + Double(x[$1 * c + j]) }, accuracy: 1e-9)
            XCTAssertEqual(stats.maxima[j], active.map { x[$0 * c + j] }.max() ?? 0)
            // The top: largest values, ties broken by the earlier row.
            let expected = active.sorted { x[$0 * c + j] > x[$1 * c + j] || (x[$0 * c + j] == x[$1 * c + j] && $0 < $1) }.prefix(5)
            XCTAssertEqual(stats.topActivations(j).map(\.row), Array(expected), "latent \(j)")
            XCTAssertEqual(stats.histogram(j).reduce(0) { $0 + Int($1) }, active.count)
            for v in active.map({ x[$0 * c + j] }) { XCTAssertGreaterThan(stats.histogram(j)[stats.histogram(j).startIndex + FeatureStatistics.bin(v)], 0) }
            XCTAssertEqual(stats.classes(j).map(Int.init), (0..<3).map { k in active.filter { labels[$0] == k }.count })
            // The sample: min(8, fires) of the latent's own activations.
            let sample = stats.sampledActivations(j)
            XCTAssertEqual(sample.count, min(8, active.count))
            for s in sample { XCTAssertEqual(x[s.row * c + j], s.value) }
        }
        XCTAssertEqual(stats.fires[3], 0)
        // Other batch sizes (one row, an odd size, everything at once) keep exactly the same.
        for batch in [1, 7, rows] {
            let other = gather(x, rows: rows, c: c, batch: batch, labels: labels)
            for j in 0..<c {
                XCTAssertEqual(other.topActivations(j).map(\.row), stats.topActivations(j).map(\.row))
                XCTAssertEqual(other.sampledActivations(j).map(\.row), stats.sampledActivations(j).map(\.row))
                XCTAssertEqual(Array(other.histogram(j)), Array(stats.histogram(j)))
            }
        }
    }

    func testHistogramBinsAreLog10() {
        XCTAssertEqual(FeatureStatistics.bin(1), 4 * FeatureStatistics.binsPerDecade)
        XCTAssertEqual(FeatureStatistics.bin(10), 5 * FeatureStatistics.binsPerDecade)
        XCTAssertEqual(FeatureStatistics.bin(1e-9), 0)
        XCTAssertEqual(FeatureStatistics.bin(1e9), FeatureStatistics.bins - 1)
    }

    func testMostSimilarLatentsMatchBruteForce() {
        let (c, d) = (300, 9)   // more than one block of 256
        let rows = randomFloats(c * d, seed: 3)
        let similar = FeatureBrowser.mostSimilar(rows, latents: c, width: d, keep: 3)
        func cosine(_ a: Int, _ b: Int) -> Double {
            var (ab, aa, bb) = (0.0, 0.0, 0.0)
            for i in 0..<d {
                let (x, y) = (Double(rows[a * d + i]), Double(rows[b * d + i]))
                (ab, aa, bb) = (ab + x * y, aa + x * x, bb + y * y)
            }
            return ab / (aa * bb).squareRoot()
        }
        for j in [0, 1, 255, 256, 299] {
            let expected = (0..<c).filter { $0 != j }.sorted { cosine(j, $0) > cosine(j, $1) }.prefix(3)
            XCTAssertEqual(similar[j].map(\.latent), Array(expected), "latent \(j)")
            for s in similar[j] { XCTAssertEqual(Double(s.cosine), cosine(j, s.latent), accuracy: 1e-5) }
        }
    }

    /// `sae features` on a run over vectors with --labels; the page's data read back; a page
    /// replaced; a user's directory, a link and mismatched options refused with nothing changed;
    /// `train --force` takes the stale page away with the run.
    func testTheToolWritesAPageAndProtectsOtherDirectories() throws {
        let dir = temporaryDirectory(self)
        let n = 400, d = 6
        try NPY.write(randomFloats(n * d, seed: 1), rows: n, cols: d, to: dir + "/x.npy")
        let trained = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "200", "--k", "3", "--epochs", "1", "--out", dir + "/run"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        try (0..<n).map { "token \($0 % 5)" }.joined(separator: "\n").write(toFile: dir + "/labels.txt", atomically: true, encoding: .utf8)
        let r = try runSAE(["features", dir + "/run", "--npy", dir + "/x.npy", "--labels", dir + "/labels.txt", "--top", "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("200 latents over 400 vectors"), r.stdout)
        let page = dir + "/run/features"
        for file in ["index.html", "data/latents.js", "data/chunk-0.js", "data/chunk-1.js", ".sae-features"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: page + "/" + file), file)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: page + "/data/chunk-2.js"))
        let latents = try String(contentsOfFile: page + "/data/latents.js", encoding: .utf8)
        let metaJSON = latents.components(separatedBy: "SAE.meta = ")[1].components(separatedBy: ";\n")[0]
        let meta = try JSONSerialization.jsonObject(with: Data(metaJSON.utf8)) as! [String: Any]
        XCTAssertEqual(meta["latents"] as? Int, 200)
        XCTAssertEqual(meta["classes"] as? [String], (0..<5).map { "token \($0)" })
        XCTAssertEqual(meta["l0"] as? Double ?? 0, 3, accuracy: 1e-9)
        let chunk = try String(contentsOfFile: page + "/data/chunk-1.js", encoding: .utf8)
        let body = String(chunk.dropFirst("SAE.chunk(1, ".count).dropLast(3))
        let parsed = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [String: Any]
        let sections = parsed["latents"] as! [String: Any]
        XCTAssertEqual(Set(sections.keys), Set((128..<200).map(String.init)))
        let rows = parsed["rows"] as! [String: [String: Any]]
        for (row, entry) in rows { XCTAssertEqual(entry["t"] as? String, "token \(Int(row)! % 5)") }
        let html = try String(contentsOfFile: page + "/index.html", encoding: .utf8)
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "nothing fetched from the network")

        // Written again: the page is replaced.
        XCTAssertEqual(try runSAE(["features", dir + "/run", "--npy", dir + "/x.npy"]).status, 0)
        // A user's directory, a file, a link: refused, untouched.
        try FileManager.default.createDirectory(atPath: dir + "/mine", withIntermediateDirectories: true)
        try "keep".write(toFile: dir + "/mine/notes.txt", atomically: true, encoding: .utf8)
        assertCommandFails(try runSAE(["features", dir + "/run", "--out", dir + "/mine"]), mentioning: "which sae features did not write")
        XCTAssertEqual(try String(contentsOfFile: dir + "/mine/notes.txt", encoding: .utf8), "keep")
        try "x".write(toFile: page + "/data/extra.txt", atomically: true, encoding: .utf8)
        assertCommandFails(try runSAE(["features", dir + "/run"]), mentioning: "extra.txt")
        try FileManager.default.removeItem(atPath: page + "/data/extra.txt")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/mine")
        assertCommandFails(try runSAE(["features", dir + "/run", "--out", dir + "/link"]), mentioning: "symbolic link")
        // Options that do not fit the vectors.
        try "a\nb\n".write(toFile: dir + "/short.txt", atomically: true, encoding: .utf8)
        assertCommandFails(try runSAE(["features", dir + "/run", "--npy", dir + "/x.npy", "--labels", dir + "/short.txt", "--out", dir + "/p"]),
                           mentioning: "has 2 lines but there are 400 vectors")
        assertCommandFails(try runSAE(["features", dir + "/run", "--npy", dir + "/x.npy", "--image-shape", "2x2", "--out", dir + "/p"]),
                           mentioning: "is 4 values but each vector has 6")
        assertCommandFails(try runSAE(["features", dir + "/run", "--top", "0"]), mentioning: "--top")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/p"))
        // Replacing the run takes its page away.
        XCTAssertEqual(try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "20", "--k", "3", "--epochs", "1", "--out", dir + "/run", "--force"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: page))
    }

    /// Fashion-MNIST images: examples and decoder rows go out as pixels, classes by name.
    func testImagesAndClassesForFashionMNIST() throws {
        let dir = temporaryDirectory(self)
        let trained = try runSAE(["train", "--data", fashionMini, "--architecture", "dictionary", "--code", "32", "--k", "4", "--epochs", "1",
                                  "--out", dir + "/run"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let r = try runSAE(["features", dir + "/run", "--data", fashionMini, "--out", dir + "/page"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let chunk = try String(contentsOfFile: dir + "/page/data/chunk-0.js", encoding: .utf8)
        let parsed = try JSONSerialization.jsonObject(with: Data(chunk.dropFirst("SAE.chunk(0, ".count).dropLast(3).utf8)) as! [String: Any]
        let sections = parsed["latents"] as! [String: [String: Any]]
        let fired = sections.values.first { ($0["top"] as! [Any]).count > 0 }!
        XCTAssertEqual(Data(base64Encoded: fired["decoder"] as! String)?.count, 784)
        XCTAssertEqual((fired["classes"] as! [Int]).count, 10)
        let rows = parsed["rows"] as! [String: [String: Any]]
        XCTAssertFalse(rows.isEmpty)
        for entry in rows.values {
            XCTAssertEqual(Data(base64Encoded: entry["p"] as! String)?.count, 784)
            XCTAssertTrue(FashionMNIST.classNames.contains(entry["t"] as! String))
        }
    }

    /// The page's script runs in a real browser (headless Chromium, where installed: not in CI):
    /// the table's first page and an opened latent's section are in the DOM.
    func testThePageRendersInHeadlessChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .first(where: FileManager.default.isExecutableFile) else { throw XCTSkip("no Chromium installed") }
        let dir = temporaryDirectory(self)
        XCTAssertEqual(try runSAE(["train", "--data", fashionMini, "--architecture", "dictionary", "--code", "150", "--k", "4",
                                   "--epochs", "1", "--out", dir + "/run"]).status, 0)
        XCTAssertEqual(try runSAE(["features", dir + "/run", "--data", fashionMini]).status, 0)
        let dom = try runProcess(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000", "--dump-dom",
                                            "file://\(dir)/run/features/index.html#L130"])
        XCTAssertTrue(dom.output.contains("rows 1–100 of 150"), dom.output.suffix(2000).description)
        XCTAssertTrue(dom.output.contains("<h2>Latent 130</h2>"), "the section of a latent in the second chunk")
    }
}
