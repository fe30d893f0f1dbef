import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// `mpirun -np N sae train` on one machine (Open MPI, which `make test` installs: never skipped).
///
/// Tolerances against a single-process run with the same global batch and seed, after one or two epochs:
/// every weight tensor's largest difference is below 1e-4 of its largest magnitude (float sums
/// taken in another order; measured: about 1e-6), the final validation FVU and each epoch's
/// val_loss agree to 1e-4, and the dead-latent counts are equal. A run killed on one rank and
/// resumed on as many ranks ends bit-identical to the uninterrupted MPI run.
final class MPITests: XCTestCase {
    /// mpirun, and the environment every launch gets: root allowed (CI runs as root), ranks
    /// beyond the cores allowed, one thread per rank, and copy-in/copy-out shared memory
    /// (containers often forbid the cross-process reads of the default).
    func mpirun() throws -> String {
        let candidates = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map { $0 + "/mpirun" } + ["/usr/bin/mpirun"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("mpirun is not installed: `make test` (scripts/install-deps.sh --test) installs Open MPI (apt-get install openmpi-bin)")
            throw SAEError("no mpirun")
        }
        return path
    }

    static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "SAE_THREADS": "1",
                              "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "OMPI_MCA_rmaps_base_oversubscribe": "1"]

    /// For a launch that every rank leaves with an error they agreed on, printed before MPI_Finalize
    /// (whose barrier the ranks pass together): mpirun need not give the ranks a second between
    /// SIGTERM and SIGKILL once one has exited non-zero, a wait that made each such launch take a
    /// second longer. Not for a killed rank (the wait is what the test times), an interrupted run
    /// (rank 0 prints after MPI_Finalize) or a refusal made before MPI starts (`sae summary`).
    static let agreedRefusal = ["OMPI_MCA_odls_base_sigkill_timeout": "0"]

    var sae: String {
        (try? builtExecutable("sae")) ?? "sae"
    }

    /// Runs `mpirun -np ranks sae arguments` (or several `-np n sae ...` blocks, `:`-separated);
    /// gives up after `timeout` seconds (the job is then killed and the test fails).
    func launch(_ blocks: [(ranks: Int, arguments: [String])], environment: [String: String] = [:], timeout: Double = 60) throws
        -> (result: CommandResult, seconds: Double) {
        var arguments: [String] = []
        for (i, block) in blocks.enumerated() {
            arguments += (i > 0 ? [":"] : []) + ["-np", "\(block.ranks)", sae] + block.arguments
        }
        return try run(try mpirun(), arguments, environment: Self.environment.merging(environment) { $1 }, timeout: timeout)
    }

    func launch(_ ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> CommandResult {
        try launch([(ranks, arguments)], environment: environment).result
    }

    func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) throws
        -> (result: CommandResult, seconds: Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError) = (out, err)
        let start = Date()
        try p.run()
        let deadline = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        deadline.cancel()
        let seconds = Date().timeIntervalSince(start)
        XCTAssertLessThan(seconds, timeout, "\(executable) \(arguments.joined(separator: " ")) hung")
        return (CommandResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self)), seconds)
    }

    /// Three shards of 1,400 + 1,300 + 1,300 vectors of width 24 (sparse sums of 48 directions
    /// plus noise) and 500 validation vectors.
    func makeVectors(in root: String, width d: Int = 24, seed: UInt64 = 3) throws -> (shards: String, validation: String) {
        var rng = SeededGenerator(seed: seed)
        let atoms = (0..<(48 * d)).map { _ in 2 * rng.nextUnitFloat() - 1 }
        func vectors(_ n: Int) -> [Float] {
            var x = [Float](repeating: 0, count: n * d)
            for r in 0..<n {
                for a in 0..<48 where rng.nextUnitFloat() < 0.1 {
                    let c = 3 * rng.nextUnitFloat()
                    for j in 0..<d { x[r * d + j] += c * atoms[a * d + j] }
                }
                for j in 0..<d { x[r * d + j] += 0.05 * (2 * rng.nextUnitFloat() - 1) }
            }
            return x
        }
        let shards = root + "/shards-\(d)"
        try FileManager.default.createDirectory(atPath: shards, withIntermediateDirectories: true)
        for (i, n) in [1400, 1300, 1300].enumerated() { try NPY.write(vectors(n), rows: n, cols: d, to: shards + "/part\(i).npy") }
        try NPY.write(vectors(500), rows: 500, cols: d, to: root + "/val-\(d).npy")
        return (shards, root + "/val-\(d).npy")
    }

    /// Made once for the whole class (every test reads them; none writes there): the shards of
    /// width 24 and 20, and the 2-rank TopK + AuxK run over two epochs that testAKilledRank...
    /// resumes to and testRanksTrain... compares with one process.
    nonisolated(unsafe) static var sharedRoot: String?
    nonisolated(unsafe) static var sharedVectors: [Int: (shards: String, validation: String)] = [:]
    nonisolated(unsafe) static var sharedTopK: (run: String, result: CommandResult)?

    func vectors(width: Int = 24) throws -> (shards: String, validation: String) {
        if let made = Self.sharedVectors[width] { return made }
        let made = try makeVectors(in: Self.root(), width: width)
        Self.sharedVectors[width] = made
        return made
    }

    /// The 24-wide vectors ("x", float16) and 16-wide ones ("y", bfloat16) as tensors of the same
    /// .safetensors shards, and of one validation file.
    func safetensorsPairs() throws -> (shards: String, validation: String) {
        let (x, y) = (try vectors(), try vectors(width: 16))
        let dir = Self.root() + "/safetensors"
        if FileManager.default.fileExists(atPath: dir) { return (dir, dir + "-val.safetensors") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        func pair(_ a: String, _ b: String, to path: String) throws {
            let (inputs, targets) = (try NPY.read(path: a), try NPY.read(path: b))
            try writeSafetensors([("x", "F16", [inputs.rows, inputs.cols], storedBytes(inputs.values, as: "F16")),
                                  ("y", "BF16", [targets.rows, targets.cols], storedBytes(targets.values, as: "BF16"))], to: path)
        }
        for i in 0..<3 { try pair(x.shards + "/part\(i).npy", y.shards + "/part\(i).npy", to: dir + "/part\(i).safetensors") }
        try pair(x.validation, y.validation, to: dir + "-val.safetensors")
        return (dir, dir + "-val.safetensors")
    }

    /// A TopK transcoder: the 24-wide vectors to 16-wide targets (other vectors, as many rows),
    /// both tensors of the same .safetensors shards as activation caches hold them (float16
    /// inputs, bfloat16 targets), streamed.
    func transcoderArguments() throws -> [String] {
        let st = try safetensorsPairs()
        return ["train", "--data-npy", st.shards, "--tensor", "x", "--val-npy", st.validation, "--target-npy", st.shards,
                "--target-tensor", "y", "--val-target-npy", st.validation, "--code", "48", "--k", "4", "--auxk", "8",
                "--batch-size", "300", "--epochs", "1"]
    }

    static func root() -> String {
        if let sharedRoot { return sharedRoot }
        let path = NSTemporaryDirectory() + "sae-mpi-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        sharedRoot = path
        return path
    }

    override class func tearDown() {
        if let sharedRoot { try? FileManager.default.removeItem(atPath: sharedRoot) }
        (sharedRoot, sharedVectors, sharedTopK) = (nil, [:], nil)
        super.tearDown()
    }

    /// TopK + AuxK on the shards, batch 256 (4,000 / 256: 16 steps per epoch, the last batch of
    /// 160 splits 80/80 and 54/53/53), two epochs.
    func topkArguments() throws -> [String] {
        let (shards, validation) = try vectors()
        return ["train", "--data-npy", shards, "--val-npy", validation, "--code", "96", "--k", "6", "--auxk", "12",
                "--dead-after", "600", "--batch-size", "256", "--epochs", "2"]
    }

    /// `mpirun -np 2 sae train` with `topkArguments()`, run once for the class.
    func topkOnTwoRanks() throws -> (run: String, result: CommandResult) {
        if let made = Self.sharedTopK { return made }
        let run = Self.root() + "/topk-2"
        let made = (run, try launch(2, try topkArguments() + ["--out", run]))
        Self.sharedTopK = made
        return made
    }

    func tensors(_ run: String) throws -> [String: Safetensors.Tensor] {
        try Safetensors.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: run + "/model.safetensors"))), name: run).tensors
    }

    /// Weights, validation losses, FVU and dead latents of `run` against the single-process `reference`.
    func assertAgrees(_ run: String, with reference: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let (a, b) = (try tensors(run), try tensors(reference))
        XCTAssertEqual(Set(a.keys), Set(b.keys), file: file, line: line)
        for (name, expected) in b {
            let got = try XCTUnwrap(a[name]).values, scale = expected.values.map(abs).max() ?? 0
            let difference = zip(got, expected.values).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(difference, 1e-4 * max(scale, 1e-6), "\(what): \(name) differs by \(difference) (largest weight \(scale))", file: file, line: line)
        }
        let (history, expectedHistory) = (try RunDirectory(path: run).loadHistory(), try RunDirectory(path: reference).loadHistory())
        XCTAssertEqual(history.count, expectedHistory.count, file: file, line: line)
        for (h, e) in zip(history, expectedHistory) {
            XCTAssertEqual(h.valLoss ?? .nan, e.valLoss ?? .nan, accuracy: 1e-4 * abs(e.valLoss ?? 1), "\(what): val_loss", file: file, line: line)
            XCTAssertEqual(h.loss, e.loss, accuracy: 1e-4 * abs(e.loss), "\(what): loss", file: file, line: line)
            XCTAssertEqual(h.deadLatents, e.deadLatents, "\(what): dead latents", file: file, line: line)
            XCTAssertNotNil(h.allReduceSeconds, file: file, line: line)
        }
        let (m, e) = (try RunDirectory(path: run).loadMetrics(), try RunDirectory(path: reference).loadMetrics())
        XCTAssertEqual(m.testFvu ?? .nan, e.testFvu ?? .nan, accuracy: 1e-4, "\(what): val FVU", file: file, line: line)
    }

    /// TopK + AuxK on streamed shards with 2 and 3 ranks (two epochs; batch 256: the last batch
    /// of 160 splits 80/80 and 54/53/53), an L1 dictionary with 2 ranks, the tutorial's KL model
    /// on real Fashion-MNIST images (the fashion-mini fixture: batches of 128 and 72, split
    /// 43/43/42 and 24/24/24) with 3 ranks, batches smaller than the ranks, the batch-wide
    /// architectures and a TopK transcoder, each against one process.
    func testRanksTrainTheSingleProcessModel() throws {
        let root = temporaryDirectory(self)
        let (shards, validation) = try vectors()
        let topk = try topkArguments()
        let l1 = ["train", "--data-npy", shards, "--val-npy", validation, "--architecture", "dictionary", "--penalty", "l1", "--l1", "0.01",
                  "--code", "64", "--batch-size", "300", "--epochs", "1"]
        let kl = ["train", "--penalty", "kl", "--epochs", "1", "--hidden", "32", "--code", "16",
                  "--batch-size", "128", "--data", fashionMini]
        // Batches of 2 over 3 ranks: one rank always has no rows (and still takes part).
        let tiny = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "32", "--k", "4", "--auxk", "8", "--dead-after", "10",
                    "--batch-size", "2", "--train-limit", "41", "--epochs", "2"]
        // The batch-wide architectures: BatchTopK's selection over every rank's rows (3 ranks, one
        // without rows in the last batch: 300 = 100 / 100 / 100, then 160 = 54 / 53 / 53 ... and
        // batches of 2), JumpReLU's L0 over the whole batch, Matryoshka's prefixes.
        let vectorsRun = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "48", "--batch-size", "300", "--epochs", "1"]
        let batchTopK = vectorsRun + ["--architecture", "batchtopk", "--k", "4", "--auxk", "8", "--dead-after", "200"]
        let jumpReLU = vectorsRun + ["--architecture", "jumprelu", "--target-l0", "4", "--bandwidth", "0.05"]
        let matryoshka = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "32", "--architecture", "matryoshka", "--k", "4",
                          "--groups", "8,24", "--batch-size", "2", "--train-limit", "41", "--epochs", "1"]
        let transcoder = try transcoderArguments()
        for (name, arguments, ranks) in [("topk", topk, [2, 3]), ("l1", l1, [2]), ("kl", kl, [3]), ("tiny", tiny, [3]),
                                         ("batchtopk", batchTopK, [3]), ("jumprelu", jumpReLU, [2]), ("matryoshka", matryoshka, [3]),
                                         ("transcoder", transcoder, [3])] {
            let single = try runSAE(arguments + ["--out", root + "/\(name)-1"], environment: ["SAE_THREADS": "1"])
            XCTAssertEqual(single.status, 0, single.stderr)
            for n in ranks {
                var out = root + "/\(name)-\(n)"
                let r: CommandResult
                if name == "topk" && n == 2 { (out, r) = try topkOnTwoRanks() } else { r = try launch(n, arguments + ["--out", out]) }
                XCTAssertEqual(r.status, 0, "\(name), \(n) ranks: \(r.stderr)")
                XCTAssertTrue(r.stdout.contains("on \(n) MPI ranks"), r.stdout)
                XCTAssertEqual(r.stdout.components(separatedBy: "Epoch 1/").count, 2, "rank 0 alone prints progress: \(r.stdout)")
                XCTAssertEqual(try RunDirectory(path: out).loadConfig().training.ranks, n)
                try assertAgrees(out, with: root + "/\(name)-1", "\(name), \(n) ranks")
            }
        }
        // The dead latents AuxK revives were counted: some latents died along the way.
        XCTAssertNotNil(try RunDirectory(path: root + "/topk-1").loadHistory().last?.deadLatents)
    }

    /// One rank killed (SIGKILL) mid-epoch: the job ends within seconds, mpirun names the rank,
    /// the last checkpoint resumes on as many ranks to the uninterrupted run's bytes. One rank
    /// asked to stop (as Ctrl-C or SIGTERM would): every rank stops at the same step, rank 0
    /// saves where it got to. Resuming on another number of ranks, or without mpirun, is refused.
    func testAKilledRankStopsTheJobAndTheRunResumesExactly() throws {
        let root = temporaryDirectory(self)
        // 16 steps per epoch (the step point is also reached once after each epoch).
        let arguments = try topkArguments()
        let (reference, uninterrupted) = try topkOnTwoRanks()
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.stderr)
        let expected = try XCTUnwrap(FileManager.default.contents(atPath: reference + "/model.safetensors"))

        let killed = root + "/killed"
        let (crash, seconds) = try launch([(2, arguments + ["--out", killed])], environment: ["SAE_FAULT": "step@21", "SAE_FAULT_RANK": "1"], timeout: 30)
        XCTAssertNotEqual(crash.status, 0)
        XCTAssertTrue(crash.stderr.contains("rank 1") && crash.stderr.contains("signal 9"), crash.stderr)
        XCTAssertLessThan(seconds, 15, "the surviving rank did not stop within seconds")
        XCTAssertNil(FileManager.default.contents(atPath: killed + "/model.safetensors"))
        XCTAssertEqual(try RunDirectory(path: killed).loadHistory().count, 1, "the checkpoint after epoch 1 is the last one")
        let resumed = try launch(2, ["train", "--resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: killed + "/model.safetensors"), expected, "resumed weights differ")

        let stopped = root + "/stopped"
        let stop = try launch(2, arguments + ["--out", stopped], environment: ["SAE_FAULT": "step@5:interrupt", "SAE_FAULT_RANK": "1"])
        XCTAssertEqual(stop.status, 130, stop.stderr)
        XCTAssertTrue(stop.stderr.contains("mpirun -np 2 sae train --resume \(stopped)"), stop.stderr)
        let status = try RunDirectory(path: stopped).loadStatus()
        XCTAssertEqual([status.state.rawValue, "\(status.epoch ?? 0)", "\(status.step ?? 0)"], ["interrupted", "1", "5"])
        assertCommandFails(try launch(3, ["train", "--resume", stopped], environment: Self.agreedRefusal), mentioning: "was trained on 2 MPI ranks (mpirun -np 2), but this is 3 MPI ranks")
        assertCommandFails(try runSAE(["train", "--resume", stopped]), mentioning: "was trained on 2 MPI ranks")
        let finished = try launch(2, ["train", "--resume", stopped])
        XCTAssertEqual(finished.status, 0, finished.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: stopped + "/model.safetensors"), expected, "resumed weights differ")
    }

    /// --shard-latents: each rank holds a slice of the latents and the whole batch. The run is one
    /// process's within float rounding (2 and 3 ranks: TopK + AuxK with latents dying on the way; a
    /// transcoder of .safetensors tensors), resumes on as many ranks to the uninterrupted run's
    /// bytes (stopped mid-epoch; a rank killed), and its files are any run's to analyze, encode and
    /// export. What it cannot split is refused before anything is written.
    func testLatentShardsTrainTheSingleProcessModel() throws {
        let root = temporaryDirectory(self)
        let (shards, validation) = try vectors()
        // A high learning rate and a short window: latents die, so AuxK's exchange runs too.
        let topk = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "96", "--k", "6", "--auxk", "12",
                    "--dead-after", "300", "--learning-rate", "0.01", "--batch-size", "256", "--epochs", "2"]
        let transcoder = try transcoderArguments()
        // BatchTopK: its cut over the whole batch counted over the ranks (settings far from a
        // near-tie at the cut, which rounding could flip: see testRanksTrainTheSingleProcessModel).
        let batchTopK = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "48", "--batch-size", "300", "--epochs", "1",
                         "--architecture", "batchtopk", "--k", "4", "--auxk", "8", "--dead-after", "200"]
        // Shards of unequal sizes (22, 21, 21 latents) and an AuxK k above a shard's latents (each
        // rank sends at most its own), with many latents dead; the gradient clipped (its norm: the
        // ranks' rows summed, b_dec once).
        let uneven = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "64", "--k", "2", "--auxk", "32", "--dead-after", "64",
                      "--learning-rate", "0.01", "--batch-size", "64", "--epochs", "2", "--train-limit", "1000", "--max-grad-norm", "1e-4"]
        // Matryoshka: groups of 8, 16 and 24 latents over shards of 16 (the first group on rank 0
        // alone, the others across two ranks each), the prefixes' reconstructions summed too.
        let matryoshka = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "48", "--architecture", "matryoshka", "--k", "4",
                          "--groups", "8,16,24", "--auxk", "8", "--batch-size", "256", "--epochs", "1"]
        for (name, arguments, ranks) in [("topk", topk, [2]), ("transcoder", transcoder, [2]), ("batchtopk", batchTopK, [3]), ("uneven", uneven, [3]),
                                         ("matryoshka", matryoshka, [3])] {
            let single = try runSAE(arguments + ["--out", root + "/\(name)-1"], environment: ["SAE_THREADS": "1"])
            XCTAssertEqual(single.status, 0, single.stderr)
            for n in ranks {
                let out = root + "/\(name)-\(n)"
                let r = try launch(n, arguments + ["--shard-latents", "--out", out])
                XCTAssertEqual(r.status, 0, "\(name), \(n) shards: \(r.stderr)")
                XCTAssertTrue(r.stdout.contains("on \(n) MPI ranks") && r.stdout.contains("each holding 1/\(n) of the latents"), r.stdout)
                let config = try RunDirectory(path: out).loadConfig()
                XCTAssertEqual([config.training.ranks, config.training.shardLatents == true ? 1 : 0], [n, 1])
                try assertAgrees(out, with: root + "/\(name)-1", "\(name), \(n) shards")
                // The checkpoint too: Adam's moments within rounding of one process's.
                let (a, b) = (try Safetensors.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint.safetensors"))), name: out).tensors,
                              try Safetensors.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: root + "/\(name)-1/checkpoint.safetensors"))), name: name).tensors)
                for moment in ["optimizer.m", "optimizer.v"] {
                    let (x, y) = (try XCTUnwrap(a[moment]).values, try XCTUnwrap(b[moment]).values)
                    let scale = y.map(abs).max() ?? 0
                    XCTAssertLessThan(zip(x, y).map { abs($0 - $1) }.max() ?? 0, 1e-4 * scale, "\(name), \(n) shards: \(moment)")
                }
            }
        }
        for name in ["topk", "uneven"] {
            XCTAssertGreaterThan(try RunDirectory(path: root + "/\(name)-1").loadHistory().compactMap(\.deadLatents).max() ?? 0, 0, "\(name): no latent died, AuxK never ran")
        }
        // Read as any run.
        let run = root + "/topk-2"
        XCTAssertEqual(try runSAE(["analyze", run]).status, 0)
        let encode = try runSAE(["encode", run, "--out", root + "/codes.npy"])
        XCTAssertEqual(encode.status, 0, encode.stderr)
        XCTAssertEqual(try runSAE(["export", run, "--out", root + "/export"]).status, 0)

        // Stopped mid-epoch, and a rank killed: resumed on as many ranks, the same bytes.
        let expected = try XCTUnwrap(FileManager.default.contents(atPath: run + "/model.safetensors"))
        let stopped = root + "/stopped"
        let stop = try launch(2, topk + ["--shard-latents", "--out", stopped], environment: ["SAE_FAULT": "step@5:interrupt", "SAE_FAULT_RANK": "1"])
        XCTAssertEqual(stop.status, 130, stop.stderr)
        XCTAssertEqual(try RunDirectory(path: stopped).loadStatus().step, 5)
        assertCommandFails(try launch(3, ["train", "--resume", stopped], environment: Self.agreedRefusal), mentioning: "was trained on 2 MPI ranks (mpirun -np 2), but this is 3 MPI ranks")
        let finished = try launch(2, ["train", "--resume", stopped])
        XCTAssertEqual(finished.status, 0, finished.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: stopped + "/model.safetensors"), expected, "resumed weights differ")
        let killed = root + "/killed"
        let (crash, seconds) = try launch([(2, topk + ["--shard-latents", "--out", killed])], environment: ["SAE_FAULT": "step@21", "SAE_FAULT_RANK": "1"], timeout: 30)
        XCTAssertNotEqual(crash.status, 0)
        XCTAssertTrue(crash.stderr.contains("rank 1") && crash.stderr.contains("signal 9"), crash.stderr)
        XCTAssertLessThan(seconds, 15, "the surviving rank did not stop within seconds")
        XCTAssertEqual(try RunDirectory(path: killed).loadHistory().count, 1, "the checkpoint after epoch 1 is the last one")
        let resumed = try launch(2, ["train", "--resume", killed])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(FileManager.default.contents(atPath: killed + "/model.safetensors"), expected, "resumed weights differ")

        // A diverging run stops on every rank at the same step (a shard's weights leaving the
        // finite is agreed on), its status saying so.
        let diverging = try launch(2, topk.map { $0 == "0.01" ? "1e30" : $0 } + ["--shard-latents", "--out", root + "/diverged"])
        assertCommandFails(diverging, mentioning: "training diverged at epoch 1")
        XCTAssertEqual(try RunDirectory(path: root + "/diverged").loadStatus().state, .diverged)

        // Refused before anything is written.
        let jumpReLU = ["train", "--data-npy", shards, "--val-npy", validation, "--code", "48", "--architecture", "jumprelu", "--target-l0", "4",
                        "--shard-latents"]
        assertCommandFails(try launch(2, jumpReLU + ["--out", root + "/refused"], environment: Self.agreedRefusal), mentioning: "a jumprelu SAE is not split yet")
        assertCommandFails(try launch(3, topk.map { $0 == "96" ? "16" : $0 } + ["--shard-latents", "--out", root + "/refused"], environment: Self.agreedRefusal),
                           mentioning: "each of the 3 ranks would hold 5 latents, fewer than k = 6")
        assertCommandFails(try runSAE(topk + ["--shard-latents", "--out", root + "/refused"]), mentioning: "splits the latents over MPI ranks: run under mpirun")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/refused"), "nothing may be written")
    }

    /// A dictionary whose training state exceeds what one process may use (`ulimit -v`) is refused
    /// in one process and trains on two ranks with half the latents each, under the same limit,
    /// to one process's model (trained without the limit).
    func testADictionaryBiggerThanOneRankTrainsOnShards() throws {
        let root = temporaryDirectory(self)
        var rng = SeededGenerator(seed: 4)
        let d = 256, (rows, validationRows) = (512, 128)
        try NPY.write((0..<(rows * d)).map { _ in 2 * rng.nextUnitFloat() - 1 }, rows: rows, cols: d, to: root + "/train.npy")
        try NPY.write((0..<(validationRows * d)).map { _ in 2 * rng.nextUnitFloat() - 1 }, rows: validationRows, cols: d, to: root + "/val.npy")
        let arguments = ["train", "--data-npy", root + "/train.npy", "--val-npy", root + "/val.npy", "--code", "32768", "--k", "16",
                         "--batch-size", "64", "--epochs", "1"]
        // The limit between what one process needs and what each rank needs, with one thread each
        // (the budget leaves 256 MiB for the program and 128 MiB per thread's OpenBLAS buffer).
        let config = AutoencoderConfig.dictionary(inputSize: d, codeSize: 32_768, topK: 16)
        let single = MemoryBudget.trainingBytes(config, batchSize: 64, evaluationBatchSize: 64)
        let shard = try LatentShard(rank: 0, ranks: 2, config: config)
        let perRank = max(MemoryBudget.trainingBytes(shard.local, batchSize: 64, evaluationBatchSize: 0), MemoryBudget.evaluationBytes(config, batchSize: 64))
        XCTAssertLessThan(perRank, single * 3 / 4)
        let limitKB = ((384 << 20) + (single + perRank) / 2) >> 10
        func limited(_ command: [String]) throws -> CommandResult {
            try run("/bin/sh", ["-c", "ulimit -v \(limitKB) && exec \"$@\"", "sh"] + command, environment: Self.environment).result
        }
        assertCommandFails(try limited([sae] + arguments + ["--out", root + "/one"]), mentioning: "this model needs about")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/one"))
        let sharded = try limited([try mpirun(), "-np", "2", sae] + arguments + ["--shard-latents", "--out", root + "/two"])
        XCTAssertEqual(sharded.status, 0, sharded.stderr)
        let reference = try runSAE(arguments + ["--out", root + "/reference"], environment: ["SAE_THREADS": "1"])
        XCTAssertEqual(reference.status, 0, reference.stderr)
        let (m, e) = (try RunDirectory(path: root + "/two").loadMetrics(), try RunDirectory(path: root + "/reference").loadMetrics())
        XCTAssertEqual(m.testFvu ?? .nan, e.testFvu ?? .nan, accuracy: 1e-4)
    }

    /// Inputs that differ between ranks are refused before anything is written: another shard
    /// width (mpirun's `:` gives each rank its own arguments), a file one rank cannot read, a
    /// vector file without a validation set; commands other than train; and weights that drift.
    func testMismatchedInputsAreRefusedUpFront() throws {
        let root = temporaryDirectory(self)
        let (shards, validation) = try vectors()
        let (wide, wideValidation) = try vectors(width: 20)
        let common = ["--code", "32", "--k", "4", "--epochs", "1", "--out", root + "/run"]
        let width = try launch([(1, ["train", "--data-npy", shards, "--val-npy", validation] + common),
                                (1, ["train", "--data-npy", wide, "--val-npy", wideValidation] + common)], environment: Self.agreedRefusal).result
        assertCommandFails(width, mentioning: "the ranks' training data differ: rank 0 has 4000 vectors of width 24, rank 1 has 4000 vectors of width 20")
        let unreadable = try launch([(1, ["train", "--data-npy", shards, "--val-npy", validation] + common),
                                     (1, ["train", "--data-npy", root + "/missing", "--val-npy", validation] + common)],
                                    environment: Self.agreedRefusal).result
        assertCommandFails(unreadable, mentioning: "rank 1: \(root)/missing: does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/run"), "nothing may be written")
        assertCommandFails(try launch(2, ["train", "--data-npy", shards + "/part0.npy"] + common, environment: Self.agreedRefusal), mentioning: "needs a validation set: give --val-npy")
        assertCommandFails(try launch(2, ["summary"]), mentioning: "only `sae train` runs over MPI ranks")
        // Rank 0 alone writes: a rank told to write elsewhere is refused, not ignored.
        let elsewhere = try launch([(1, ["train", "--data-npy", shards, "--val-npy", validation] + common),
                                    (1, ["train", "--data-npy", shards, "--val-npy", validation] + common + ["--out", root + "/other"])],
                                   environment: Self.agreedRefusal).result
        assertCommandFails(elsewhere, mentioning: "rank 1 was given another --out, --resume, --force or --accept-changed-data than rank 0")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/run"), "nothing may be written")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/other"), "nothing may be written")
        // An MPMD job whose rank 0 trains and rank 1 runs another command: rank 1 says why the job ends.
        let mpmd = try launch([(1, ["train", "--data-npy", shards, "--val-npy", validation] + common), (1, ["summary"])]).result
        assertCommandFails(mpmd, mentioning: "rank 1 of 2: only `sae train` runs over MPI ranks")
        // Ranks whose weights drift apart (a fault on rank 1) are stopped after the epoch, and the
        // checkpoint is not overwritten with either.
        let drift = try launch(2, ["train", "--data-npy", shards, "--val-npy", validation, "--code", "32", "--k", "4", "--epochs", "2",
                                   "--out", root + "/drift"],
                           environment: Self.agreedRefusal.merging(["SAE_FAULT": "drift@1", "SAE_FAULT_RANK": "1"]) { $1 })
        assertCommandFails(drift, mentioning: "the ranks' training states differ after epoch 1: rank 1's weights sum to")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/drift/history.json"), "epoch 1 must not be saved")
    }

    /// The plain build has no MPI dependency: `sae` does not link libmpi (it is opened with
    /// dlopen only under mpirun), and SAE_MPI=1 without Open MPI's library says what to install.
    func testThePlainToolDoesNotLinkMPI() throws {
        let (ldd, _) = try run("/usr/bin/env", ["ldd", sae])
        XCTAssertEqual(ldd.status, 0, ldd.stderr)
        XCTAssertFalse(ldd.stdout.contains("libmpi"), ldd.stdout)
        let r = try runSAE(["train", "--epochs", "1", "--train-limit", "100", "--out", temporaryDirectory(self) + "/r"],
                           environment: ["SAE_MPI": "1", "SAE_MPI_LIBRARY": "libmpi-missing.so.40"])
        assertCommandFails(r, mentioning: "cannot load Open MPI")
    }
}
