import Foundation
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// What sae does to paths a user names as outputs, and the run directory's lock.
final class UserOutputTests: XCTestCase {
    private func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    func testNewFilesAreCreatedAndExistingOnesNeedForce() throws {
        let dir = temporaryDirectory(self)
        try UserOutput.write(Data("one".utf8), to: dir + "/a.npy", force: false)
        XCTAssertEqual(contents(dir + "/a.npy"), "one")
        XCTAssertThrowsError(try UserOutput.write(Data("two".utf8), to: dir + "/a.npy", force: false)) {
            XCTAssertTrue("\($0)".contains("already exists; pass --force"), "\($0)")
        }
        XCTAssertEqual(contents(dir + "/a.npy"), "one")
        // --force replaces it and keeps its permissions.
        chmod(dir + "/a.npy", 0o600)
        try UserOutput.write(Data("two".utf8), to: dir + "/a.npy", force: true)
        XCTAssertEqual(contents(dir + "/a.npy"), "two")
        var info = stat()
        stat(dir + "/a.npy", &info)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }

    /// Streamed outputs (`sae encode` of data larger than memory): what arrives is the bytes in
    /// order, and a stream that fails part-way leaves a new path empty and an old file as it was.
    func testAStreamThatFailsLeavesNothingBehind() throws {
        let dir = temporaryDirectory(self)
        try UserOutput.write(to: dir + "/out", force: false) { sink in
            for chunk in ["a", String(repeating: "b", count: 3 << 20), "c"] { try sink.write(Array(chunk.utf8)) }
        }
        XCTAssertEqual(contents(dir + "/out"), "a" + String(repeating: "b", count: 3 << 20) + "c")
        struct Unreadable: Error {}
        XCTAssertEqual(link(dir + "/out", dir + "/out-link"), 0)
        for (path, force) in [(dir + "/new", false), (dir + "/out", true), (dir + "/out-link", true)] {
            XCTAssertThrowsError(try UserOutput.write(to: path, force: force) { sink in
                try sink.write(Array(repeating: 1, count: 2 << 20))
                throw Unreadable()
            }) { XCTAssertTrue($0 is Unreadable, "\($0)") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/new"))
        XCTAssertEqual(contents(dir + "/out")?.count, 2 + 3 << 20, "the old file is untouched, also when hard-linked")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["out", "out-link"], "no temporary file is left")
        // A hard-linked file that is written is rewritten in place: both names see the new bytes.
        try UserOutput.write(to: dir + "/out-link", force: true) { try $0.write(Array("new".utf8)) }
        XCTAssertEqual(contents(dir + "/out"), "new")
    }

    /// A hard link to a run's file, wherever it lives and whatever its name, is refused with
    /// --force too: written in place it would change that run (its weights, checkpoint, config,
    /// status, history or metrics, told by their contents). A user's own hard-linked file is not.
    func testAHardLinkToARunsFileIsRefused() throws {
        let dir = temporaryDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/run", withIntermediateDirectories: true)
        let model = try Autoencoder(config: .dictionary(inputSize: 4, codeSize: 8, topK: 2), seed: 1)
        try model.save(to: dir + "/run/model.safetensors")
        let settings = TrainingSettings(epochs: 1)
        let trainer = try Trainer(model: model, settings: settings)
        try trainer.saveCheckpoint(to: dir + "/run/checkpoint.safetensors")
        try JSONFile.write(RunConfig(model: model.config, training: settings, data: DataSettings()), to: dir + "/run/config.json")
        try JSONFile.write(RunStatus(state: .interrupted, epoch: 1, step: 2), to: dir + "/run/status.json")
        try JSONFile.write([EpochRecord(epoch: 1, loss: 1, valLoss: 0.5, seconds: 1)], to: dir + "/run/history.json")
        for (file, kind) in [("model.safetensors", "weights"), ("checkpoint.safetensors", "checkpoint"), ("config.json", "config.json"),
                             ("status.json", "status.json"), ("history.json", "history.json")] {
            let before = FileManager.default.contents(atPath: dir + "/run/" + file)
            XCTAssertNotNil(before)
            XCTAssertEqual(link(dir + "/run/" + file, dir + "/elsewhere-" + file + ".npy"), 0)
            XCTAssertThrowsError(try UserOutput.write(Data("codes".utf8), to: dir + "/elsewhere-" + file + ".npy", force: true), file) {
                XCTAssertTrue("\($0)".contains("is a hard link to a run's \(kind)"), "\($0)")
            }
            XCTAssertEqual(FileManager.default.contents(atPath: dir + "/run/" + file), before, "\(file) untouched")
        }
    }

    func testHardLinksAreRewrittenInPlaceAndSymlinksKept() throws {
        let dir = temporaryDirectory(self)
        try AtomicFile.write("old", to: dir + "/file")
        link(dir + "/file", dir + "/other-name")
        try UserOutput.write(Data("new".utf8), to: dir + "/file", force: true)
        XCTAssertEqual(contents(dir + "/other-name"), "new", "both names of a hard-linked file see the new bytes")
        symlink(dir + "/file", dir + "/link")
        try UserOutput.write(Data("via link".utf8), to: dir + "/link", force: true)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link"), dir + "/file", "the link stays a link")
        XCTAssertEqual(contents(dir + "/file"), "via link")
        symlink(dir + "/nothing", dir + "/dangling")
        XCTAssertThrowsError(try UserOutput.write(Data(), to: dir + "/dangling", force: true)) {
            XCTAssertTrue("\($0)".contains("symbolic link to nothing"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/nothing"))
    }

    func testDevicesAndPipesAreWrittenToNotReplaced() throws {
        let dir = temporaryDirectory(self)
        try UserOutput.write(Data("x".utf8), to: "/dev/null", force: false)
        var info = stat()
        XCTAssertEqual(stat("/dev/null", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a device")
        mkfifo(dir + "/fifo", 0o600)
        final class Received: @unchecked Sendable { var bytes: [UInt8] = [] }
        let received = Received(), finished = DispatchSemaphore(value: 0)
        let reader = Thread {
            let fd = open(dir + "/fifo", O_RDONLY)
            var buffer = [UInt8](repeating: 0, count: 16)
            while case let n = read(fd, &buffer, 16), n > 0 { received.bytes += buffer[0..<n] }
            close(fd)
            finished.signal()
        }
        reader.start()
        try UserOutput.write(Data("through".utf8), to: dir + "/fifo", force: false)
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success, "the writer did not close the pipe")
        XCTAssertEqual(String(decoding: received.bytes, as: UTF8.self), "through", "the reader got what was written")
        XCTAssertEqual(lstat(dir + "/fifo", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFIFO)
    }

    func testDirectoriesRunFilesAndBadPathsAreRefused() throws {
        let dir = temporaryDirectory(self)
        for (path, text) in [(dir, "is a directory"), ("", "empty"), (dir + "/missing/x.npy", "does not exist"),
                             (dir + "/x/", "names a directory")] {
            XCTAssertThrowsError(try UserOutput.write(Data(), to: path, force: true)) { XCTAssertTrue("\($0)".contains(text), "\(path): \($0)") }
        }
        // A run's own file is never another command's output, even with --force.
        let run = dir + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try AtomicFile.write("{}", to: run + "/config.json")
        try AtomicFile.write("weights", to: run + "/model.safetensors")
        XCTAssertThrowsError(try UserOutput.write(Data(), to: run + "/model.safetensors", force: true)) {
            XCTAssertTrue("\($0)".contains("belongs to the run"), "\($0)")
        }
        XCTAssertEqual(contents(run + "/model.safetensors"), "weights")
        // Several files: one refusal writes none of them.
        try AtomicFile.write("keep", to: dir + "/b.txt")
        XCTAssertThrowsError(try UserOutput.write([("a.txt", Data("a".utf8)), ("b.txt", Data("b".utf8))], into: dir, force: false))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/a.txt"))
        XCTAssertEqual(contents(dir + "/b.txt"), "keep")
    }

    /// A second writer is refused with a sentence naming the holder; the lock goes with the
    /// process that held it (here: this test process holds it while a `sae train` tries).
    func testARunDirectoryHasOneWriterAtATime() throws {
        let dir = temporaryDirectory(self) + "/run"
        let run = try RunDirectory.create(dir, force: false)
        try run.lock()   // the same process may take it again,
        try RunDirectory(path: (dir as NSString).deletingLastPathComponent + "/./run").lock()   // under any spelling
        let vectors = temporaryDirectory(self) + "/v.npy"
        try NPY.write(randomFloats(64 * 4, seed: 1), rows: 64, cols: 4, to: vectors)
        let r = try runSAE(["train", "--data-npy", vectors, "--code", "8", "--k", "2", "--epochs", "1", "--out", dir, "--force"])
        assertCommandFails(r, mentioning: "is in use by another sae process (pid \(getpid())")
    }
}
