import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class FashionMNISTTests: XCTestCase {
    /// Writes four tiny but well-formed IDX files (gzip'd) named like Fashion-MNIST's.
    func writeTinyDataset(in dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (file, shape) in [(FashionMNIST.trainImages, [3, 28, 28]), (FashionMNIST.testImages, [2, 28, 28]),
                              (FashionMNIST.trainLabels, [3]), (FashionMNIST.testLabels, [2])] {
            let bytes = IDX.encode(shape: shape, bytes: [UInt8](repeating: 9, count: shape.reduce(1, *)))
            try AtomicFile.write(Gzip.compress(bytes), to: dir + "/" + file.name + ".gz")
        }
    }

    func testSearchPathOrderAndExplicitDirectory() throws {
        let root = temporaryDirectory(self)
        try writeTinyDataset(in: root + "/second")
        try writeTinyDataset(in: root + "/third")
        let found = try FashionMNIST.locate(directory: nil, searchPath: [root + "/empty", root + "/second", root + "/third"],
                                            download: false, cacheDirectory: root + "/cache")
        XCTAssertEqual(found, root + "/second")
        XCTAssertEqual(try FashionMNIST.locate(directory: root + "/third"), root + "/third")
        // An explicit directory must hold the files: no silent fallback to another copy.
        XCTAssertThrowsError(try FashionMNIST.locate(directory: root + "/empty")) { error in
            XCTAssertTrue("\(error)".contains("missing train-images-idx3-ubyte"), "\(error)")
        }
        let (train, test) = try FashionMNIST.load(directory: root + "/second")
        XCTAssertEqual([train.count, test.count], [3, 2])
    }

    func testNotFoundNamesThePlacesAndThePackage() {
        let root = temporaryDirectory(self)
        XCTAssertThrowsError(try FashionMNIST.locate(directory: nil, searchPath: [root + "/a", root + "/b"], download: false)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(root + "/a, " + root + "/b"), text)
            XCTAssertTrue(text.contains("apt-get install dataset-fashion-mnist"), text)
        }
    }

    /// The one test on the real files (Debian's dataset-fashion-mnist, whose decompressed bytes
    /// are the originals): they have the sizes and SHA-256s a download is checked against
    /// (computed by coreutils' sha256sum, not ours), they load with the dataset's shapes and
    /// classes, and a short training on them lowers the loss.
    func testTheRealFilesMatchTheirChecksumsLoadAndTrain() throws {
        for file in FashionMNIST.files {
            let path = FashionMNIST.debianDirectory + "/" + file.name + ".gz"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-o", "pipefail", "-c", #"gzip -dc "$1" | sha256sum"#, "bash", path]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let digest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "\(path) missing: run `apt-get install dataset-fashion-mnist` (make test does)")
            XCTAssertEqual(digest.split(separator: " ").first.map(String.init), file.sha256, file.name)
        }
        let (train, test) = try debianFashionMNIST()
        XCTAssertEqual([train.count, train.height, train.width], [60000, 28, 28])
        XCTAssertEqual([test.count, test.height, test.width], [10000, 28, 28])
        XCTAssertEqual(train.count * 784 + 16, FashionMNIST.trainImages.bytes)
        XCTAssertEqual(test.count * 784 + 16, FashionMNIST.testImages.bytes)
        XCTAssertEqual(Set(train.labels), Set(0..<10))
        XCTAssertEqual(Set(test.labels), Set(0..<10))
        XCTAssertEqual(train.floats(0..<100).max(), 1) // some pixel is 255

        let model = try Autoencoder(config: .tutorial(.l1(lambda: 1e-5)), seed: 1)
        let history = try model.fit(train.prefix(2000), validation: test.prefix(500),
                                    settings: TrainingSettings(epochs: 3, batchSize: 256, seed: 1))
        XCTAssertEqual(history.map(\.epoch), [1, 2, 3])
        XCTAssertLessThan(history[2].loss, history[0].loss)
        XCTAssertLessThan(history[2].valLoss!, history[0].valLoss!)
        XCTAssertLessThan(history[2].valLoss!, 0.5) // an untrained model scores ~0.69
    }

    /// The fixture's four files as `FashionMNIST.File`s: their decompressed sizes and SHA-256s.
    func fixtureFiles() throws -> [FashionMNIST.File] {
        try FashionMNIST.files.map { file in
            let raw = try Gzip.decompress([UInt8](Data(contentsOf: URL(fileURLWithPath: fashionMini + "/" + file.name + ".gz"))), name: file.name)
            var hasher = SHA256()
            hasher.update(raw)
            return FashionMNIST.File(name: file.name, bytes: raw.count, sha256: hasher.finalizeHex())
        }
    }

    /// The download path against a real HTTP server on 127.0.0.1 (serving the fixture, checked
    /// against the fixture's sizes and checksums): fetched, verified, cached as served, loaded.
    func testDownloadsVerifiesAndCachesFromALocalServer() throws {
        var served: [String: [UInt8]] = [:]
        for file in FashionMNIST.files {
            served["/fmnist/" + file.name + ".gz"] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fashionMini + "/" + file.name + ".gz")))
        }
        let server = try LocalHTTPServer(files: served)
        defer { server.stop() }
        let cache = temporaryDirectory(self) + "/cache"
        var log: [String] = []
        let files = try fixtureFiles()
        let dir = try FashionMNIST.locate(directory: nil, searchPath: [cache], baseURL: server.baseURL.appendingPathComponent("fmnist"),
                                          cacheDirectory: cache, files: files, log: { log.append($0) })
        XCTAssertEqual(dir, cache)
        XCTAssertEqual(log.count, 4)
        XCTAssertEqual(Set(server.requestedPaths), Set(served.keys))
        for (path, bytes) in served {
            XCTAssertEqual(FileManager.default.contents(atPath: cache + "/" + (path as NSString).lastPathComponent), Data(bytes), path)
        }
        let (train, test) = try FashionMNIST.load(directory: cache)
        XCTAssertEqual([train.count, test.count], [200, 100])
        // A second look finds the cache and downloads nothing.
        _ = try FashionMNIST.locate(directory: nil, searchPath: [cache], baseURL: server.baseURL, cacheDirectory: cache, files: files)
        XCTAssertEqual(server.requestedPaths.count, 4)
    }

    /// A file of the right size whose bytes differ (one pixel changed) is refused by its SHA-256.
    func testATamperedFileIsRefusedByItsChecksum() throws {
        let files = try fixtureFiles()
        var served: [String: [UInt8]] = [:]
        for file in FashionMNIST.files {
            var raw = try Gzip.decompress([UInt8](Data(contentsOf: URL(fileURLWithPath: fashionMini + "/" + file.name + ".gz"))), name: file.name)
            if file.name == FashionMNIST.testImages.name { raw[1000] ^= 0xff }
            served["/" + file.name + ".gz"] = Gzip.compress(raw)
        }
        let server = try LocalHTTPServer(files: served)
        defer { server.stop() }
        let cache = temporaryDirectory(self) + "/cache"
        XCTAssertThrowsError(try FashionMNIST.locate(directory: nil, searchPath: [cache], baseURL: server.baseURL, cacheDirectory: cache,
                                                     files: files)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("t10k-images-idx3-ubyte.gz has SHA-256 "), text)
            XCTAssertTrue(text.contains("expected \(files[2].sha256) (corrupt or tampered)"), text)
        }
        XCTAssertNil(FashionMNIST.path(of: FashionMNIST.testImages, in: cache), "the tampered file is not kept")
        XCTAssertNotNil(FashionMNIST.path(of: FashionMNIST.trainImages, in: cache), "the files before it were verified and kept")
    }

    func testAFileWithTheWrongChecksumIsNotKept() throws {
        let root = temporaryDirectory(self)
        try writeTinyDataset(in: root + "/tiny")
        var served: [String: [UInt8]] = [:]
        for file in FashionMNIST.files {
            served["/" + file.name + ".gz"] = [UInt8](FileManager.default.contents(atPath: root + "/tiny/" + file.name + ".gz")!)
        }
        let server = try LocalHTTPServer(files: served)
        defer { server.stop() }
        let cache = root + "/cache"
        XCTAssertThrowsError(try FashionMNIST.locate(directory: nil, searchPath: [cache], baseURL: server.baseURL, cacheDirectory: cache)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("download from http://127.0.0.1:"), text)
            XCTAssertTrue(text.contains("expected 47040016"), text)
            XCTAssertTrue(text.contains("apt-get install dataset-fashion-mnist"), text)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache), [], "nothing unverified is left in the cache")
    }

    func testAMissingFileOnTheServerIsReported() throws {
        let server = try LocalHTTPServer(files: [:])
        defer { server.stop() }
        let cache = temporaryDirectory(self) + "/cache"
        XCTAssertThrowsError(try FashionMNIST.locate(directory: nil, searchPath: [], baseURL: server.baseURL, cacheDirectory: cache)) { error in
            XCTAssertTrue("\(error)".contains("HTTP 404"), "\(error)")
        }
    }

    /// A server that accepts the connection and never answers: the download gives up after its
    /// idle time and says "timed out" in words (not "NSURLErrorDomain error -1001").
    func testASilentServerTimesOutInWords() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        XCTAssertEqual(listen(fd, 4), 0)   // the kernel completes the handshake; nobody ever reads or answers
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let url = URL(string: "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))/train-images-idx3-ubyte.gz")!
        let start = Date()
        XCTAssertThrowsError(try Downloader.get(url, idle: 1, deadline: 2)) { error in
            XCTAssertTrue("\(error)".contains("timed out"), "\(error)")
            XCTAssertFalse("\(error)".contains("NSURLErrorDomain"), "\(error)")
        }
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 0.8, "it gave up before its idle time")
        XCTAssertLessThan(waited, 15)
    }
}
