import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SparseAutoencoder

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

    /// The download path against a real HTTP server on 127.0.0.1 serving the real files
    /// (Debian's, whose decompressed bytes are the originals): fetched, verified, cached, loaded.
    func testDownloadsVerifiesAndCachesFromALocalServer() throws {
        var served: [String: [UInt8]] = [:]
        for file in FashionMNIST.files {
            let path = FashionMNIST.debianDirectory + "/" + file.name + ".gz"
            guard let data = FileManager.default.contents(atPath: path) else {
                return XCTFail("\(path) missing: run `apt-get install dataset-fashion-mnist` (make test does)")
            }
            served["/fmnist/" + file.name + ".gz"] = [UInt8](data)
        }
        let server = try LocalHTTPServer(files: served)
        defer { server.stop() }
        let cache = temporaryDirectory(self) + "/cache"
        var log: [String] = []
        let dir = try FashionMNIST.locate(directory: nil, searchPath: [cache], baseURL: server.baseURL.appendingPathComponent("fmnist"),
                                          cacheDirectory: cache, log: { log.append($0) })
        XCTAssertEqual(dir, cache)
        XCTAssertEqual(log.count, 4)
        XCTAssertEqual(Set(server.requestedPaths), Set(served.keys))
        let (train, test) = try FashionMNIST.load(directory: cache)
        XCTAssertEqual([train.count, test.count], [60000, 10000])
        // A second look finds the cache and downloads nothing.
        _ = try FashionMNIST.locate(directory: nil, searchPath: [cache], baseURL: server.baseURL, cacheDirectory: cache)
        XCTAssertEqual(server.requestedPaths.count, 4)
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
        XCTAssertThrowsError(try Downloader.get(url, idle: 2, deadline: 4)) { error in
            XCTAssertTrue("\(error)".contains("timed out"), "\(error)")
            XCTAssertFalse("\(error)".contains("NSURLErrorDomain"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 15)
    }
}
