import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// Random floats in [lo, hi) from a fixed seed.
func randomFloats(_ n: Int, seed: UInt64, in range: ClosedRange<Float> = -1...1) -> [Float] {
    var rng = SeededGenerator(seed: seed)
    return (0..<n).map { _ in range.lowerBound + (range.upperBound - range.lowerBound) * rng.nextUnitFloat() }
}

/// Checks an analytic gradient against central finite differences of `f` at `x`, over every
/// coordinate: the relative error ||a - n|| / (||a|| + ||n||) must be below `tolerance`.
func assertGradientMatches(_ analytic: [Float], at x: [Float], h: Float = 1e-2, tolerance: Double = 2e-3,
                           _ f: ([Float]) -> Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(analytic.count, x.count, file: file, line: line)
    var numeric = [Double](repeating: 0, count: x.count)
    for i in x.indices {
        var plus = x, minus = x
        plus[i] += h
        minus[i] -= h
        numeric[i] = (f(plus) - f(minus)) / Double(plus[i] - minus[i])
    }
    var diff = 0.0, na = 0.0, nn = 0.0
    for i in x.indices {
        diff += pow(Double(analytic[i]) - numeric[i], 2)
        na += pow(Double(analytic[i]), 2)
        nn += numeric[i] * numeric[i]
    }
    XCTAssertGreaterThan(na, 0, "the analytic gradient is all zeros: the check would prove nothing", file: file, line: line)
    let relative = diff.squareRoot() / (na.squareRoot() + nn.squareRoot())
    XCTAssertLessThan(relative, tolerance, "relative gradient error \(relative)", file: file, line: line)
}

/// A fresh empty directory under the system temp directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) -> String {
    let path = NSTemporaryDirectory() + "sae-tests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// A tiny labelled image set with random pixels: (count, side, side).
func syntheticImages(count: Int, side: Int = 4, seed: UInt64 = 7) -> Dataset {
    var rng = SeededGenerator(seed: seed)
    let pixels = (0..<(count * side * side)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let labels = (0..<count).map { UInt8($0 % 10) }
    return Dataset(count: count, height: side, width: side, pixels: pixels, labels: labels)
}

/// A few real Fashion-MNIST images in the dataset's four gzip'd IDX files (Tests/Fixtures/fashion-mini,
/// written by Tests/Fixtures/make-fashion-mini.py): the first 20 training and 10 test images of
/// each class, 200 and 100 in all. Pass it as `--data` to `sae`, or to `FashionMNIST.load`.
let fashionMini = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/fashion-mini").path

/// Real Fashion-MNIST, from Debian's dataset-fashion-mnist package (which `.ci/run` installs).
func debianFashionMNIST() throws -> (train: Dataset, test: Dataset) {
    let dir = FashionMNIST.debianDirectory
    guard FashionMNIST.files.allSatisfy({ FashionMNIST.path(of: $0, in: dir) != nil }) else {
        XCTFail("Fashion-MNIST is not in \(dir): run `apt-get install dataset-fashion-mnist` (make test does)")
        throw SAEError("dataset missing")
    }
    return try FashionMNIST.load(directory: dir)
}

/// What running the `sae` tool gave.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// The path of an executable of this package (`sae`, `GettingStarted`) that `swift test` built
/// next to the test bundle; a test failure if it is not there.
///
/// `SAE_TEST_BINARY` names another `sae` to run instead (`make test` gives its release build, just
/// built from the same sources: the end-to-end tests train, and a debug build trains slowly). A
/// relative path is taken from the directory the tests start in, and made absolute: tests run it
/// from other directories, and `make install SAE_BIN=.build/release/sae` would match the
/// Makefile's own rule for that file and rebuild it (waiting on the lock `swift test` holds).
func builtExecutable(_ name: String) throws -> String {
    if name == "sae", var binary = ProcessInfo.processInfo.environment["SAE_TEST_BINARY"], !binary.isEmpty {
        if !binary.hasPrefix("/") { binary = FileManager.default.currentDirectoryPath + "/" + binary }
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            XCTFail("SAE_TEST_BINARY=\(binary) is not an executable")
            throw SAEError("no sae at \(binary)")
        }
        return binary
    }
    let next = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    let path = FileManager.default.isExecutableFile(atPath: next) ? next : Bundle.main.bundleURL.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        XCTFail("the \(name) executable was not built next to the tests (\(next))")
        throw SAEError("no \(name)")
    }
    return path
}

/// Runs `executable` with arguments and extra environment variables; returns the exit status and
/// standard output and error together.
func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, out)
}

/// Runs the `sae` executable built next to the tests, with extra environment variables (and in
/// `workingDirectory`, if given).
func runSAE(_ arguments: [String], environment: [String: String] = [:], workingDirectory: String? = nil) throws -> CommandResult {
    let path = try builtExecutable("sae")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    if let workingDirectory { p.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A non-zero exit with `text` in standard error and no Swift runtime trap.
func assertCommandFails(_ r: CommandResult, mentioning text: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, file: file, line: line)
    XCTAssertTrue(r.stderr.contains(text), "stderr: \(r.stderr)", file: file, line: line)
    XCTAssertFalse(r.stderr.contains("Fatal error"), "a Swift trap: \(r.stderr)", file: file, line: line)
}

/// Runs `python3` (which needs numpy: `make test` installs it) with arguments; returns the exit
/// status and standard output + error.
func runPython(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try runProcess("/usr/bin/env", ["python3"] + arguments)
}

extension Autoencoder {
    /// A training step without the update: the batch's loss (with AuxK when `dead` is given) and
    /// its gradient added into `g`.
    func lossAndGradient(_ ws: Workspace, batch: Int, dead: DeadLatents? = nil, into g: inout [Float]) -> BatchLoss {
        let loss = self.loss(ws, batch: batch, dead: dead, keepingGradient: true)
        g.withUnsafeMutableBufferPointer { backward(ws, batch: batch, gradients: $0.baseAddress!) }
        return loss
    }

    /// The batch `x`'s loss at parameters `q` (a transcoder's against `targets`): forward and
    /// loss, nothing kept (finite differences).
    func objective(at q: [Float], _ ws: Workspace, _ x: [Float], batch: Int, targets: [Float]? = nil) -> Double {
        parameterValues = q
        ws.input.update(from: x, count: x.count)
        if let targets { ws.target.update(from: targets, count: targets.count) }
        forward(ws, batch: batch)
        return loss(ws, batch: batch).objective
    }

    /// Backward's gradient of the batch `x`'s loss (reconstruction + penalty) at the current
    /// parameters against central finite differences over every parameter; returns it. Small
    /// steps: larger ones cross relu kinks and feel the curvature (2-9% error at h = 1e-2).
    @discardableResult
    func assertBackwardMatchesFiniteDifferences(_ ws: Workspace, _ x: [Float], batch: Int, targets: [Float]? = nil,
                                                file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        let p = parameterValues
        _ = objective(at: p, ws, x, batch: batch, targets: targets)
        var g = [Float](repeating: 0, count: parameterCount)
        _ = lossAndGradient(ws, batch: batch, into: &g)
        assertGradientMatches(g, at: p, h: 2e-3, tolerance: 5e-3, { objective(at: $0, ws, x, batch: batch, targets: targets) },
                              file: file, line: line)
        parameterValues = p
        return g
    }

    /// A dictionary's pre-activations (x - b_dec) W_enc^T (a transcoder's x W_enc^T; + b_enc with
    /// `bias`) for every sample and latent, in Double, the simple way: (batch, codeSize).
    func densePreActivations(_ x: [Float], batch: Int, bias: Bool = true) -> [Double] {
        let p = parameterValues, (enc, dec) = (layers[0], layers[1]), (d, c) = (config.inputSize, config.codeSize)
        let centring: Float = config.isCentred ? 1 : 0
        var v = [Double](repeating: 0, count: batch * c)
        for r in 0..<batch {
            for j in 0..<c {
                var s = bias ? Double(p[enc.biasOffset + j]) : 0
                for i in 0..<d { s += Double(x[r * d + i] - centring * p[dec.biasOffset + i]) * Double(p[enc.kernelOffset + j * d + i]) }
                v[r * c + j] = s
            }
        }
        return v
    }

    /// Sets b_dec to the mean sample of `data`, as the trainer does before a dictionary's first step.
    func startDecoderBiasAtMean(of data: Dataset) {
        dictionary!.startDecoderBias(sums: DictionaryBehaviour.featureSums(of: data, rows: 0..<data.count), count: data.count)
    }
}

extension DeadLatents {
    /// Marks `latents` dead and no other.
    func markDead(_ latents: [Int]) {
        restore((0..<codeSize).map { latents.contains($0) ? deadAfter : 0 })
    }
}

/// Trains `config` on `data` uninterrupted, and again stopped after `stopAfter` polls of
/// `shouldStop` (at `expectedStop`), checkpointed, restored into a fresh trainer and finished:
/// the two must end with the same weights. Returns the resumed trainer.
@discardableResult
func assertCheckpointResumesExactly(_ config: AutoencoderConfig, on data: Dataset, settings: TrainingSettings, stopAfter: Int,
                                    at expectedStop: Trainer.Stop, in dir: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws -> Trainer {
    let full = try Autoencoder(config: config, seed: settings.seed)
    try full.fit(data, settings: settings)
    XCTAssertTrue(full.parameterValues.allSatisfy(\.isFinite), file: file, line: line)
    let first = try Trainer(model: try Autoencoder(config: config, seed: settings.seed), settings: settings)
    var polls = 0
    XCTAssertThrowsError(try first.fit(data, shouldStop: { polls += 1; return polls == stopAfter }), file: file, line: line) { error in
        XCTAssertEqual(error as? Trainer.Stop, expectedStop, file: file, line: line)
    }
    try first.saveCheckpoint(to: dir + "/c.safetensors")
    let second = try Trainer(model: try Autoencoder(config: config), settings: settings)
    try second.restoreCheckpoint(from: dir + "/c.safetensors")
    _ = try second.fit(data)
    XCTAssertEqual(second.model.parameterValues, full.parameterValues, "\(config.architecture)", file: file, line: line)
    return second
}

extension Autoencoder {
    /// The dense route (`DenseCodePass.swift`) against the pairs' route on one training batch x
    /// (and a transcoder's targets y): the same outputs, loss and every gradient, in another
    /// summation order.
    func assertDenseRouteEqualsPairsRoute(_ x: [Float], targets y: [Float]?, batch: Int,
                                          file: StaticString = #filePath, line: UInt = #line) {
        let out = config.targetSize
        func step(fraction: Double) -> (output: [Float], loss: Double, gradients: [Float], dense: Bool) {
            let ws = Workspace(model: self, capacity: batch)
            ws.training = true
            ws.sparse!.denseFraction = fraction
            ws.input.update(from: x, count: x.count)
            if let y { ws.target.update(from: y, count: y.count) }
            forward(ws, batch: batch)
            var g = [Float](repeating: 0, count: parameterCount)
            let loss = lossAndGradient(ws, batch: batch, into: &g)
            return (Array(UnsafeBufferPointer(start: ws.outputs[1], count: batch * out)), loss.objective, g, ws.sparse!.densePass)
        }
        let (pairs, dense) = (step(fraction: 2), step(fraction: 0))
        XCTAssertFalse(pairs.dense, file: file, line: line)
        XCTAssertTrue(dense.dense, file: file, line: line)
        XCTAssertEqual(dense.loss, pairs.loss, accuracy: 1e-6 * abs(pairs.loss), file: file, line: line)
        for (a, b) in zip(dense.output, pairs.output) { XCTAssertEqual(a, b, accuracy: 1e-5, file: file, line: line) }
        let scale = pairs.gradients.reduce(0) { max($0, abs($1)) }
        XCTAssertGreaterThan(scale, 0, file: file, line: line)
        for (i, (a, b)) in zip(dense.gradients, pairs.gradients).enumerated() {
            XCTAssertEqual(a, b, accuracy: 1e-5 * scale, "parameter \(i)", file: file, line: line)
        }
    }
}
