import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

final class IDXTests: XCTestCase {
    let images = IDX.encode(shape: [2, 3, 2], bytes: Array(0..<12))

    func testParsesImagesAndLabels() throws {
        let a = try IDX.parse(images, name: "x")
        XCTAssertEqual(a.shape, [2, 3, 2])
        XCTAssertEqual(a.bytes, Array(0..<12))
        XCTAssertEqual(try IDX.parse(IDX.encode(shape: [3], bytes: [7, 8, 9]), name: "y").shape, [3])
    }

    func testReadsRawAndGzipFilesAlike() throws {
        let dir = temporaryDirectory(self)
        try AtomicFile.write(images, to: dir + "/raw")
        try AtomicFile.write(Gzip.compress(images), to: dir + "/packed.gz")
        XCTAssertEqual(try IDX.read(path: dir + "/raw"), try IDX.read(path: dir + "/packed.gz"))
    }

    func testConcatenatedGzipMembersAreOneStream() throws {
        let joined = Gzip.compress(Array(images[0..<10])) + Gzip.compress(Array(images[10...]))
        XCTAssertEqual(try Gzip.decompress(joined, name: "j"), images)
    }

    func testMalformedFilesGiveOneLineErrors() {
        var wrongMagic = images; wrongMagic[0] = 1
        var wrongType = images; wrongType[2] = 0x0D
        var zeroRank = images; zeroRank[3] = 0
        let overflow: [UInt8] = [0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        let cases: [([UInt8], String)] = [
            ([0, 0], "too short"),
            (wrongMagic, "not an IDX file"),
            (wrongType, "unsupported IDX data type 0x0d"),
            (zeroRank, "rank 0"),
            (Array(images[0..<10]), "truncated IDX header"),
            (Array(images.dropLast()), "truncated"),
            (images + [1], "trailing bytes"),
            (overflow, "describe more data than the file holds"),
        ]
        for (bytes, expected) in cases {
            XCTAssertThrowsError(try IDX.parse(bytes, name: "bad.idx")) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("bad.idx: ") && text.contains(expected), "\(text) should mention \(expected)")
                XCTAssertFalse(text.contains("\n"))
            }
        }
    }

    func testCorruptAndTruncatedGzipAreReported() {
        let packed = Gzip.compress(images)
        var corrupt = packed; corrupt[corrupt.count / 2] ^= 0xff; corrupt[corrupt.count - 6] ^= 0xff
        XCTAssertThrowsError(try Gzip.decompress(Array(packed.dropLast(9)), name: "t.gz")) { error in
            XCTAssertTrue("\(error)".contains("truncated"), "\(error)")
        }
        XCTAssertThrowsError(try Gzip.decompress(corrupt, name: "c.gz")) { error in
            XCTAssertTrue("\(error)".contains("c.gz: "), "\(error)")
        }
        XCTAssertThrowsError(try Gzip.decompress(packed + [1, 2, 3], name: "g.gz")) { error in
            XCTAssertTrue("\(error)".contains("after the end"), "\(error)")
        }
    }

    func testImagesAndLabelsMustAgree() throws {
        let labels = try IDX.parse(IDX.encode(shape: [3], bytes: [1, 2, 3]), name: "l")
        XCTAssertThrowsError(try Dataset(images: IDX.parse(images, name: "i"), labels: labels, imagesName: "i", labelsName: "l")) { error in
            XCTAssertTrue("\(error)".contains("holds 2 images but l holds 3 labels"), "\(error)")
        }
        XCTAssertThrowsError(try Dataset(images: labels, labels: labels, imagesName: "i", labelsName: "l"))
        let set = try Dataset(images: IDX.parse(images, name: "i"),
                               labels: IDX.parse(IDX.encode(shape: [2], bytes: [4, 5]), name: "l"), imagesName: "i", labelsName: "l")
        XCTAssertEqual(set.featureCount, 6)
        XCTAssertEqual(set.floats(1..<2), (6..<12).map { Float($0) / 255 })
    }

    /// The test fixture (real images, gzip'd IDX files under the real names) loads as Fashion-MNIST.
    func testTheFixtureLoadsWithEveryClass() throws {
        let (train, test) = try FashionMNIST.load(directory: fashionMini, download: false)
        XCTAssertEqual([train.count, train.height, train.width], [200, 28, 28])
        XCTAssertEqual([test.count, test.height, test.width], [100, 28, 28])
        XCTAssertEqual((0..<10).map { c in train.labels.filter { $0 == c }.count }, [Int](repeating: 20, count: 10))
        XCTAssertEqual((0..<10).map { c in test.labels.filter { $0 == c }.count }, [Int](repeating: 10, count: 10))
        XCTAssertEqual(train.floats(0..<100).max(), 1) // some pixel is 255
    }
}
