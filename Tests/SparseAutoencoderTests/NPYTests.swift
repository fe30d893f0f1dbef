import XCTest
@testable import SparseAutoencoder

final class NPYTests: XCTestCase {
    func testHeaderAndData() {
        let bytes = NPY.encode([1, 2, 3, 4, 5, 6], rows: 2, cols: 3)
        XCTAssertEqual(Array(bytes[0..<8]), [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        XCTAssertEqual((10 + headerLength) % 64, 0, "data starts 64-byte aligned")
        let header = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.contains("'descr': '<f4'") && header.contains("'shape': (2, 3)") && header.hasSuffix("\n"))
        XCTAssertEqual(bytes.count, 10 + headerLength + 24)
        XCTAssertEqual(Array(bytes[(10 + headerLength)...].prefix(4)), [0, 0, 0x80, 0x3f])
    }

    /// NumPy itself reads what we write (numpy is on the CI machine; `.ci/run` makes sure).
    func testNumpyLoadsTheFileAndTheSafetensors() throws {
        let dir = temporaryDirectory(self)
        let values = randomFloats(12, seed: 3)
        try NPY.write(values, rows: 4, cols: 3, to: dir + "/a.npy")
        try AtomicFile.write(Safetensors.encode([("w", .init(shape: [3, 4], values: values))]), to: dir + "/w.safetensors")
        let script = """
            import json, struct, sys, numpy as np
            a = np.load(sys.argv[1])
            assert a.dtype == np.float32 and a.shape == (4, 3), (a.dtype, a.shape)
            raw = open(sys.argv[2], 'rb').read()
            n = struct.unpack('<Q', raw[:8])[0]
            meta = json.loads(raw[8:8 + n])['w']
            w = np.frombuffer(raw[8 + n + meta['data_offsets'][0]:8 + n + meta['data_offsets'][1]], '<f4').reshape(meta['shape'])
            assert np.array_equal(a.ravel(), w.ravel())
            print(' '.join(repr(float(x)) for x in a.ravel()))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir + "/a.npy", dir + "/w.safetensors"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "python3 with numpy could not read the files")
        XCTAssertEqual(out.split(separator: " ").map { Float(String($0).trimmingCharacters(in: .whitespacesAndNewlines))! }, values)
    }
}
