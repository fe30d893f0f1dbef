import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class SweepTests: XCTestCase {
    func testParetoFrontKeepsOnlyUnbeatenPoints() {
        // (sparsity, loss): b beats c on both; d ties a on x but is worse on y.
        let points: [(x: Double, y: Double)] = [(1, 5), (2, 3), (3, 4), (1, 6), (4, 1)]
        XCTAssertEqual(Sweep.paretoFront(points), [0, 1, 4])
    }

    func testGridNamesEveryCombinationAndAddsTheBaseline() {
        XCTAssertEqual(Sweep.grid(lambdas: [1e-5, 1e-3]).map(\.name), ["l1_1e-05", "l1_0.001", "none"])
        let kl = Sweep.grid(rhos: [0.05, 0.1], betas: [3], codeSizes: [32, 64])
        XCTAssertEqual(kl.count, 6)
        XCTAssertEqual(kl[0].name, "kl_rho0.05_beta3.0_code32")
        XCTAssertEqual(kl[0].penalty, .kl(rho: 0.05, beta: 3))
        let topk = Sweep.grid(ks: [8, 16])
        XCTAssertEqual(topk.map(\.name), ["topk_k8", "topk_k16", "none"])
        XCTAssertEqual(topk.map(\.topK), [8, 16, nil])
    }

    /// Issue 23: learning rates and code sizes (as latents or expansion factors) cross every
    /// setting; a name says the values of the axes that vary, and only those.
    func testGridsCrossLearningRatesCodeSizesAndSettings() throws {
        let rates: [Float] = [1e-4, 3e-4]
        let dictionaries = try Sweep.dictionaryGrid(architectures: ["topk"], lists: ["k": [4, 16]],
                                                    codeSizes: .expansion([4, 8]), inputSize: 6, learningRates: rates)
        XCTAssertEqual(dictionaries.map(\.name), ["topk_k4_lr1e-4_x4", "topk_k16_lr1e-4_x4", "topk_k4_lr3e-4_x4", "topk_k16_lr3e-4_x4",
                                                  "topk_k4_lr1e-4_x8", "topk_k16_lr1e-4_x8", "topk_k4_lr3e-4_x8", "topk_k16_lr3e-4_x8"])
        let training = TrainingSettings(epochs: 1, batchSize: 64)
        let configs = try Sweep.configs(dictionaries, training: training, data: DataSettings(), inputSize: 6)
        XCTAssertEqual(configs.map(\.model.codeSize), [24, 24, 24, 24, 48, 48, 48, 48])
        XCTAssertEqual(configs.map(\.training.optimizer.learningRate), [1e-4, 1e-4, 3e-4, 3e-4, 1e-4, 1e-4, 3e-4, 3e-4])
        XCTAssertEqual(configs.map(\.model.topK), [4, 16, 4, 16, 4, 16, 4, 16])
        // Several --code sizes name their latents; one size and one rate stay out of the names,
        // which are then those of a sweep without these axes (so its runs are found again).
        let sizes = try Sweep.dictionaryGrid(architectures: ["topk", "gated"], lists: ["k": [8], "gate-l1": [0.3]],
                                             codeSizes: .latents([32, 64]), inputSize: 6)
        XCTAssertEqual(sizes.map(\.name), ["topk_k8_code32", "gated_l10.3_code32", "topk_k8_code64", "gated_l10.3_code64"])
        let one = try Sweep.dictionaryGrid(architectures: ["topk"], lists: ["k": [8]],
                                           codeSizes: .expansion([8]), inputSize: 6, learningRates: [3e-4])
        XCTAssertEqual(one.map(\.name), ["topk_k8"])
        XCTAssertEqual(try Sweep.configs(one, training: training, data: DataSettings(), inputSize: 6).map(\.training.optimizer.learningRate), [3e-4])
        // The tutorial's grid: the baseline at each rate too; no rates: the training settings' own.
        let tutorial = Sweep.grid(ks: [8], codeSizes: [32, 64], learningRates: [3e-4, 1e-3])
        XCTAssertEqual(tutorial.map(\.name), ["topk_k8_lr3e-4_code32", "none_lr3e-4_code32", "topk_k8_lr1e-3_code32", "none_lr1e-3_code32",
                                              "topk_k8_lr3e-4_code64", "none_lr3e-4_code64", "topk_k8_lr1e-3_code64", "none_lr1e-3_code64"])
        XCTAssertEqual(Sweep.grid(ks: [8], learningRates: [3e-4]).map(\.name), ["topk_k8", "none"])
        let unswept = Sweep.grid(lambdas: [1e-5], ks: [8])
        XCTAssertEqual(unswept.map(\.name), ["l1_1e-05", "topk_k8", "none"])
        XCTAssertEqual(unswept.map(\.learningRate), [nil, nil, nil])
        XCTAssertEqual(try Sweep.configs(unswept, training: training, trainLimit: nil).map(\.training), [training, training, training])
        // Names: the shortest mantissa that reads back as the same rate, so two rates never share one.
        XCTAssertEqual(([3e-4, 1e-5, 2.5e-4, 1, 0.001, 12] as [Float]).map(Sweep.compact), ["3e-4", "1e-5", "2.5e-4", "1e0", "1e-3", "1.2e1"])
        let neighbour = Float(1e-3).nextUp
        XCTAssertNotEqual(Sweep.compact(1e-3), Sweep.compact(neighbour))
        XCTAssertEqual(Float(Sweep.compact(neighbour)), neighbour)
        // Refused before anything trains: a rate no Float holds, a factor whose code size overflows.
        XCTAssertThrowsError(try Sweep.configs(Sweep.grid(learningRates: [.infinity]), training: training, trainLimit: nil))
        XCTAssertThrowsError(try Sweep.dictionaryGrid(architectures: ["topk"], lists: ["k": [8]],
                                                      codeSizes: .expansion([Int.max]), inputSize: 6))
    }

    /// A sweep over two learning rates on vectors, end to end: one run per rate, named by it, with
    /// the learning rate column in sweep.md; the same sweep rerun skips both; a sweep of one rate
    /// keeps the names of a sweep without one; bad lists are refused before anything is written.
    func testLearningRateSweepOnVectorsEndToEnd() throws {
        let dir = temporaryDirectory(self), out = dir + "/sweep"
        try NPY.write(randomFloats(400 * 6, seed: 5), rows: 400, cols: 6, to: dir + "/acts.npy")
        func sweep(_ extra: [String], architectures: String = "topk", out: String = out) throws -> CommandResult {
            try runSAE(["sweep", "--data-npy", dir + "/acts.npy", "--architecture", architectures, "--k", "2", "--epochs", "1", "--batch-size", "64",
                        "--out", out] + extra)
        }
        let r = try sweep(["--code", "16", "--learning-rate", "1e-3,3e-4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for (name, rate) in [("topk_k2_lr1e-3", Float(1e-3)), ("topk_k2_lr3e-4", 3e-4)] {
            let config = try RunDirectory(path: out + "/" + name).loadConfig()
            XCTAssertEqual(config.training.optimizer.learningRate, rate, name)
            XCTAssertEqual(config.model.codeSize, 16, name)
        }
        let markdown = try String(contentsOfFile: out + "/sweep.md", encoding: .utf8)
        let header = try XCTUnwrap(markdown.split(separator: "\n").first { $0.hasPrefix("setting") })
        XCTAssertTrue(header.contains("learning rate") && !header.contains("code"), markdown)
        let row = try XCTUnwrap(markdown.split(separator: "\n").first { $0.hasPrefix("topk_k2_lr3e-4 ") })
        XCTAssertEqual(row.split(separator: " ")[1], "3e-4", markdown)
        let again = try sweep(["--code", "16", "--learning-rate", "1e-3,3e-4"])
        XCTAssertEqual(again.stdout.components(separatedBy: "already finished with these settings; skipped\n").count - 1, 2, again.stdout)
        // One rate (or none): the name of a sweep without the axis, and no column for it.
        let single = try sweep(["--code", "16", "--learning-rate", "3e-4"], out: dir + "/single")
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/single/topk_k2").loadConfig().training.optimizer.learningRate, 3e-4)
        XCTAssertFalse(try String(contentsOfFile: dir + "/single/sweep.md", encoding: .utf8).contains("learning rate"))
        // Expansion factors: code sizes of 2 and 3 times the width, in the names, the table and
        // the chart (one line per architecture and size, each labelled with its size).
        let widths = try sweep(["--expansion", "2,3"], architectures: "topk,batchtopk", out: dir + "/widths")
        XCTAssertEqual(widths.status, 0, widths.stderr)
        XCTAssertEqual(try RunDirectory(path: dir + "/widths/batchtopk_k2_x3").loadConfig().model.codeSize, 18)
        let table = try String(contentsOfFile: dir + "/widths/sweep.md", encoding: .utf8)
        XCTAssertTrue(table.contains("expansion") && table.contains("topk_k2_x2 ") && table.contains(" x2 ") && table.contains(" 12 "), table)
        let chart = try String(contentsOfFile: dir + "/widths/pareto_l0.svg", encoding: .utf8)
        XCTAssertEqual(chart.components(separatedBy: ">x3<").count - 1, 2, chart)
        XCTAssertEqual(chart.components(separatedBy: ">batchtopk<").count - 1, 1, "one legend entry per architecture")

        // Bad lists, and --code with --expansion: one line each, nothing written.
        for (extra, text) in [(["--learning-rate", "1e-3,0x"], "--learning-rate: '0x' is not a number"),
                              (["--learning-rate", "1e-3,0"], "--learning-rate: '0' must be > 0"),
                              (["--learning-rate", "1e-3,0.001"], "--learning-rate: '0.001' is the same as an earlier value"),
                              (["--expansion", "4,-2"], "--expansion: '-2' must be > 0"),
                              (["--expansion", "4,1.5"], "--expansion: '1.5' is not a number"),
                              (["--code", "16", "--expansion", "4"], "give --code (latents) or --expansion"),
                              (["--architecture", "topk,sparse"], "an architecture sweep takes")] {
            let bad = try sweep(extra, out: dir + "/bad")
            assertCommandFails(bad, mentioning: text)
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        }
        assertCommandFails(try runSAE(["sweep", "--expansion", "4", "--out", dir + "/bad"]), mentioning: "--expansion multiplies the width of your vectors")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad"))
        // `sae train` keeps its one learning rate.
        assertCommandFails(try runSAE(["train", "--learning-rate", "1e-3,3e-4", "--out", dir + "/bad"]), mentioning: "--learning-rate")
    }

    func testLinearProbeSeparatesSeparableClassesAndNotNoise() throws {
        // Three classes, each a shifted blob in 5 dimensions; and the same features with shuffled labels.
        var rng = SeededGenerator(seed: 3)
        func blobs(_ n: Int) -> ([Float], [UInt8]) {
            var x: [Float] = [], y: [UInt8] = []
            for i in 0..<n {
                let c = i % 3
                for j in 0..<5 { x.append((j == c ? 3 : 0) + rng.nextUnitFloat() - 0.5) }
                y.append(UInt8(c))
            }
            return (x, y)
        }
        let (xTrain, yTrain) = blobs(600), (xTest, yTest) = blobs(300)
        let separable = try LinearProbe.accuracy(train: xTrain, trainLabels: yTrain, test: xTest, testLabels: yTest, features: 5, epochs: 5)
        XCTAssertGreaterThan(separable, 0.97)
        var shuffled = yTrain
        var order = Array(shuffled.indices)
        rng.shuffle(&order)
        shuffled = order.map { yTrain[$0] }
        let noise = try LinearProbe.accuracy(train: xTrain, trainLabels: shuffled, test: xTest, testLabels: yTest, features: 5, epochs: 5)
        XCTAssertLessThan(noise, 0.6)
        XCTAssertThrowsError(try LinearProbe.accuracy(train: xTrain, trainLabels: yTrain, test: xTest, testLabels: yTest, features: 4))
    }

    /// The recommendation's rule (issue 23): the sparsest sparse run whose test error is within 2%
    /// of the sweep's best, the no-penalty baseline included; never the baseline itself; none
    /// when no sparse run is within 2%.
    func testTheRecommendationIsTheSparsestRunWithin2PercentOfTheBestBaselineIncluded() {
        // docs/results/sweep-topk: k 8, 16, 32 and no penalty, as (sparse, L0, test BCE).
        let topk: [(sparse: Bool, l0: Double, error: Double)] = [(true, 8, 0.2854), (true, 16, 0.2790), (true, 32, 0.2740), (false, 54.7, 0.2713)]
        XCTAssertEqual(Sweep.pick(topk, tolerance: 0.02), 2, "k 32 (+1.0%) is within 2% of no penalty's 0.2713; k 16 (+2.8%) is not")
        // Without a baseline (an architecture sweep) the bar is the best sparse run: k 16 is within 2% of k 32.
        XCTAssertEqual(Sweep.pick(Array(topk.prefix(3)), tolerance: 0.02), 1)
        // Settings all too strong: nothing within 2% of the baseline, so no recommendation (the
        // rule before measured against the best sparse run and picked the weakest setting here).
        XCTAssertNil(Sweep.pick([(true, 5, 0.30), (true, 10, 0.29), (false, 55, 0.27)], tolerance: 0.02))
        // The baseline is never picked, even as the sparsest within the bar; a tie in L0 goes to the lower error.
        XCTAssertEqual(Sweep.pick([(false, 3, 0.27), (true, 10, 0.272), (true, 10, 0.271), (true, 40, 0.27)], tolerance: 0.02), 2)
        XCTAssertNil(Sweep.pick([(false, 50, 0.27)], tolerance: 0.02))
        XCTAssertNil(Sweep.pick([], tolerance: 0.02))
    }

    func testSweepWritesTableChartsAndARecommendation() throws {
        let root = temporaryDirectory(self)
        let train = syntheticImages(count: 300, side: 8, seed: 1), test = syntheticImages(count: 100, side: 8, seed: 2)
        var analyses: [RunAnalysis] = []
        for setting in Sweep.grid(lambdas: [1e-4, 1e-1]) {
            let config = RunConfig(model: AutoencoderConfig(inputSize: 64, hiddenSizes: [16], codeSize: 6, penalty: setting.penalty),
                                   training: TrainingSettings(epochs: 2, batchSize: 64, seed: 1), data: DataSettings())
            let run = try RunDirectory.create(root + "/" + setting.name, force: false)
            try TrainingRun.run(config, train: train, test: test, into: run)
            analyses.append(try RunAnalysis(run: run, test: test, name: setting.name, probe: (train, 0.5)))
        }
        // The runs' figures, as `sae sweep` writes them; all but the last run's.
        for analysis in analyses.dropLast() { try analysis.write() }
        let sweep = Sweep(runs: analyses)
        let files = try sweep.write(to: root)
        XCTAssertEqual(files.count, 4)
        XCTAssertEqual(files.filter { $0.hasSuffix(".svg") }.count, 2, "\(files)")
        for svg in files.filter({ $0.hasSuffix(".svg") }) {
            XCTAssertTrue(XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: svg))).parse(), svg)
        }
        XCTAssertTrue(sweep.table.contains("l1_0.0001") && sweep.table.contains("none") && sweep.table.contains("yes"))
        // l1 1e-4 barely changes the model: within 2% of the sweep's best.
        let pick = sweep.recommendation()
        let index = try XCTUnwrap(pick.index, pick.reason)
        XCTAssertTrue(pick.reason.hasPrefix(analyses[index].name))
        XCTAssertNotEqual(analyses[index].name, "none", "the baseline is not a candidate")
        XCTAssertTrue(pick.reason.contains("within 2% of the sweep's best") && pick.reason.contains("Against no penalty"), pick.reason)
        XCTAssertEqual(sweep.advice, "Recommended: " + pick.reason)
        // Only the baseline: no recommendation, and the sweep is not called empty.
        let baselineOnly = Sweep(runs: analyses.filter { $0.name == "none" }).recommendation()
        XCTAssertNil(baselineOnly.index)
        XCTAssertTrue(baselineOnly.reason.contains("only the baseline"), baselineOnly.reason)
        let markdown = try String(contentsOfFile: root + "/sweep.md", encoding: .utf8)
        XCTAssertTrue(markdown.contains("Recommended: ") && markdown.contains("raw pixels scores 50.0%"), markdown)
        XCTAssertNotNil(analyses[0].metrics.probeAccuracy)
        // sweep.html links every figure of each run that has them, by paths relative to it that
        // lead to the files.
        let html = try String(contentsOfFile: root + "/sweep.html", encoding: .utf8)
        let hrefs = html.components(separatedBy: "href=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        for analysis in analyses.dropLast() {
            let figures = try FileManager.default.contentsOfDirectory(atPath: analysis.directory.path + "/figures")
            XCTAssertEqual(figures.count, 6, analysis.name)
            XCTAssertEqual(Set(hrefs.filter { $0.hasPrefix(analysis.name + "/figures/") }), Set(figures.map { analysis.name + "/figures/" + $0 }))
        }
        XCTAssertEqual(hrefs.count, 6 * (analyses.count - 1))
        for href in hrefs {
            XCTAssertFalse(href.hasPrefix("/"), href)
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/" + href), href)
        }
        XCTAssertTrue(html.contains("\(analyses.last!.name): no figures"), "a run without figures says so")
        XCTAssertEqual(Sweep.relativePath(of: "/a/b/run/figures", from: "/a/b"), "run/figures")
        XCTAssertEqual(Sweep.relativePath(of: "/a/other/figures", from: "/a/b/"), "../other/figures")
    }

    /// `sae sweep` rerun to completion: an interrupted setting resumes (to exactly the weights of
    /// an uninterrupted run), finished ones are skipped, and a setting whose directory holds a run
    /// with other settings trains beside it as OUT/<name>-2, which a later rerun then finds.
    func testSweepSkipsFinishedSettingsResumesInterruptedOnesAndTrainsBesideOthers() throws {
        let root = temporaryDirectory(self), out = root + "/sweep"
        // l1: the settings l1_0.001 and none; none: only none.
        func sweep(_ penalty: String = "l1", epochs: Int, fault: String? = nil) throws -> CommandResult {
            try runSAE(["sweep", "--penalty", penalty, "--l1", "1e-3", "--code", "16", "--epochs", "\(epochs)", "--batch-size", "64",
                        "--data", fashionMini, "--out", out], environment: fault.map { ["SAE_FAULT": $0] } ?? [:])
        }
        func weights(_ run: String) -> Data? { FileManager.default.contents(atPath: run + "/model.safetensors") }
        func epochs(_ run: String) throws -> Int { try RunDirectory(path: run).loadHistory().count }
        let (l1, none) = (out + "/l1_0.001", out + "/none")
        // The uninterrupted run of the first setting, for its weights.
        let reference = try runSAE(["train", "--penalty", "l1", "--l1", "1e-3", "--code", "16", "--epochs", "2", "--batch-size", "64",
                                    "--data", fashionMini, "--out", root + "/reference"])
        XCTAssertEqual(reference.status, 0, reference.stderr)

        // Ctrl-C at epoch 1, step 2 of the first setting (4 steps an epoch): the sweep stops there.
        let interrupted = try sweep(epochs: 2, fault: "step@2:interrupt")
        XCTAssertEqual(interrupted.status, 130, interrupted.stderr)
        XCTAssertEqual(try RunDirectory(path: l1).loadStatus(), RunStatus(state: .interrupted, epoch: 1, step: 2))
        XCTAssertFalse(FileManager.default.fileExists(atPath: none))

        // Rerun: the interrupted setting resumes (no fresh "Training" line), the other trains.
        let resumed = try sweep(epochs: 2)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("[1/2] l1_0.001\nResuming \(l1) from its checkpoint\n"), resumed.stdout)
        XCTAssertFalse(resumed.stdout.contains("into \(l1)\n"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("[2/2] none\nTraining no penalty on 200 images"), resumed.stdout)
        XCTAssertEqual(try RunDirectory(path: l1).loadStatus().state, .finished)
        XCTAssertEqual(weights(l1), weights(root + "/reference"), "the resumed setting ends with the uninterrupted run's weights")
        XCTAssertNotNil(weights(root + "/reference"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/sweep.md"))
        let trained = try [l1, none].map { try XCTUnwrap(weights($0)) }

        // Rerun with the same settings: both skipped, nothing retrained.
        let again = try sweep(epochs: 2)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout.components(separatedBy: "already finished with these settings; skipped\n").count - 1, 2, again.stdout)
        XCTAssertFalse(again.stdout.contains("Training ") || again.stdout.contains("Resuming ") || again.stdout.contains("Epoch "), again.stdout)
        XCTAssertEqual([weights(l1), weights(none)], trained)

        // Other settings (3 epochs; only the baseline, to be quick): it trains beside the stored
        // run, which stays as it was.
        let other = try sweep("none", epochs: 3)
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertTrue(other.stdout.contains("[1/1] none\n\(none) was trained with other settings (training.epochs: 2 -> 3); this one goes to \(none)-2\n"),
                      other.stdout)
        XCTAssertTrue(other.stdout.contains("into \(none)-2\n"), other.stdout)
        XCTAssertEqual(try epochs(none), 2)
        XCTAssertEqual(try epochs(none + "-2"), 3)
        XCTAssertEqual([weights(l1), weights(none)], trained)
        XCTAssertTrue(try String(contentsOfFile: out + "/sweep.md", encoding: .utf8).contains("none-2"))

        // And rerun with those: OUT/none-2 holds them, so it is skipped; no none-3 appears.
        let third = try sweep("none", epochs: 3)
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertTrue(third.stdout.contains("this one goes to \(none)-2\nalready finished with these settings; skipped\n"), third.stdout)
        XCTAssertFalse(third.stdout.contains("Training "), third.stdout)
        let directories = try FileManager.default.contentsOfDirectory(atPath: out).filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: out + "/" + name, isDirectory: &isDirectory) && isDirectory.boolValue
        }
        XCTAssertEqual(directories.sorted(), ["l1_0.001", "none", "none-2"])
    }

    /// On vectors, a sweep compares the dictionary architectures: one run per architecture and
    /// setting, FVU against L0 in the table and the chart, each run trained as `sae train` would.
    func testArchitectureSweepOnVectors() throws {
        let dir = temporaryDirectory(self)
        var rng = SeededGenerator(seed: 3)
        let directions = randomFloats(30 * 10, seed: 4)
        func vectors(_ rows: Int) -> [Float] {
            var x = [Float](repeating: 0, count: rows * 10)
            for r in 0..<rows {
                for _ in 0..<3 {
                    let a = Int(rng.next() % 30), s = rng.nextUnitFloat()
                    for j in 0..<10 { x[r * 10 + j] += s * directions[a * 10 + j] }
                }
            }
            return x
        }
        try NPY.write(vectors(256), rows: 256, cols: 10, to: dir + "/train.npy")
        try NPY.write(vectors(64), rows: 64, cols: 10, to: dir + "/val.npy")
        let names = ["topk", "batchtopk", "matryoshka", "jumprelu", "gated", "standard"]
        let r = try runSAE(["sweep", "--data-npy", dir + "/train.npy", "--val-npy", dir + "/val.npy", "--code", "32",
                            "--architecture", names.joined(separator: ","), "--k", "3", "--l1", "0.1", "--gate-l1", "0.2", "--groups", "0.25,0.75",
                            "--epochs", "1", "--batch-size", "64", "--out", dir + "/sweep"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let table = try String(contentsOfFile: dir + "/sweep/sweep.md", encoding: .utf8)
        for name in ["topk_k3", "batchtopk_k3", "matryoshka_k3", "jumprelu_l03", "gated_l10.2", "standard_l10.1"] {
            XCTAssertTrue(table.contains(name), "\(name) missing from\n\(table)")
            let config = try RunDirectory(path: dir + "/sweep/" + name).loadConfig()
            XCTAssertEqual(config.data.dataset, .npy, name)
        }
        XCTAssertEqual(try RunDirectory(path: dir + "/sweep/matryoshka_k3").loadConfig().model.groups, [8, 24])
        XCTAssertEqual(try RunDirectory(path: dir + "/sweep/jumprelu_l03").loadConfig().model.jumpReLU?.targetL0, 3)
        let chart = try String(contentsOfFile: dir + "/sweep/pareto_l0.svg", encoding: .utf8)
        XCTAssertTrue(chart.contains("FVU") && chart.contains("latents per validation vector"), chart)
        assertCommandFails(try runSAE(["sweep", "--data-npy", dir + "/train.npy", "--architecture", "sparse", "--k", "3", "--out", dir + "/bad"]),
                           mentioning: "an architecture sweep takes")
        assertCommandFails(try runSAE(["sweep", "--architecture", "topk", "--out", dir + "/bad"]), mentioning: "give --data-npy")
        // A user's own files of the report's names are refused before anything trains, unless
        // --force; the sweep's own report is replaced on a rerun.
        let mine = dir + "/mine"
        try FileManager.default.createDirectory(atPath: mine, withIntermediateDirectories: true)
        try Data("my notes\n".utf8).write(to: URL(fileURLWithPath: mine + "/sweep.md"))
        let arguments = ["sweep", "--data-npy", dir + "/train.npy", "--val-npy", dir + "/val.npy", "--code", "32", "--architecture", "topk",
                         "--k", "3", "--epochs", "1", "--batch-size", "64", "--out", mine]
        assertCommandFails(try runSAE(arguments), mentioning: "sweep.md exists and was not written by a sweep")
        XCTAssertEqual(try String(contentsOfFile: mine + "/sweep.md", encoding: .utf8), "my notes\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: mine + "/topk_k3"))
        XCTAssertEqual(try runSAE(arguments + ["--force"]).status, 0)
        XCTAssertTrue(try String(contentsOfFile: mine + "/sweep.md", encoding: .utf8).contains("topk_k3"))
        XCTAssertEqual(try runSAE(arguments).status, 0, "a rerun replaces the sweep's own report")
    }
}
