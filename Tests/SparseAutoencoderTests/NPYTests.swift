import XCTest
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

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

    func testReadsWhatItWrites() throws {
        let values = randomFloats(12, seed: 9)
        XCTAssertEqual(try NPY.decode(NPY.encode(values, rows: 3, cols: 4), name: "a"), NPY.Matrix(rows: 3, cols: 4, values: values))
    }

    /// Files written by NumPy itself: float64 and version 2 read; Fortran order, other dtypes,
    /// other ranks and short data refused with the reason.
    func testNumpyFilesAndRefusals() throws {
        let dir = temporaryDirectory(self)
        let script = """
            import numpy as np, sys
            d = sys.argv[1]
            a = np.arange(6, dtype=np.float64).reshape(2, 3) / 4
            np.save(d + '/f8.npy', a)
            np.save(d + '/f2.npy', a.astype(np.float16))
            h = (np.random.default_rng(0).standard_normal((300, 7)) * 50).astype(np.float16)
            import os; os.mkdir(d + '/half')
            np.save(d + '/half/a.npy', h[:120]); np.save(d + '/half/b.npy', h[120:])
            np.save(d + '/half32.npy', h.astype(np.float32))
            np.save(d + '/mixed.npy', h[:5].astype(np.float32))
            np.lib.format.write_array(open(d + '/v2.npy', 'wb'), a.astype(np.float32), version=(2, 0))
            np.save(d + '/fortran.npy', np.asfortranarray(a))
            np.save(d + '/int.npy', np.arange(6).reshape(2, 3))
            np.save(d + '/3d.npy', np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 4)
            np.save(d + '/1d.npy', np.zeros(5, np.float32))
            np.save(d + '/empty3d.npy', np.zeros((2, 0, 4), np.float32))
            np.save(d + '/nofeatures.npy', np.zeros((2, 3, 0), np.float32))
            np.save(d + '/nan.npy', np.array([[1.0, np.nan]], np.float32))
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "python3 with numpy is needed (make test installs it)")
        let expected = NPY.Matrix(rows: 2, cols: 3, values: [0, 0.25, 0.5, 0.75, 1, 1.25])
        XCTAssertEqual(try NPY.read(path: dir + "/f8.npy"), expected)
        XCTAssertEqual(try NPY.read(path: dir + "/v2.npy"), expected)
        // Half precision, as activation caches are: read whole or streamed in shards, each value
        // exactly the float32 it stands for.
        XCTAssertEqual(try NPY.read(path: dir + "/f2.npy"), expected)
        let half32 = try NPY.read(path: dir + "/half32.npy")
        for loading in [Dataset.NPYLoading.streamed, .inMemory] {
            let shards = try Dataset(npy: [dir + "/half"], loading: loading)
            XCTAssertEqual(shards.count, 300)
            XCTAssertEqual(shards.floats(0..<300), half32.values, "\(loading)")
        }
        try FileManager.default.copyItem(atPath: dir + "/mixed.npy", toPath: dir + "/half/c.npy")
        XCTAssertThrowsError(try Dataset(npy: [dir + "/half"], loading: .streamed)) {
            XCTAssertTrue("\($0)".contains("holds float32 values but") && "\($0)".contains("holds float16"), "\($0)")
        }
        // (batch, seq, d) activations: the leading axes flattened into rows, values in order.
        XCTAssertEqual(try NPY.read(path: dir + "/3d.npy"), NPY.Matrix(rows: 6, cols: 4, values: (0..<24).map { Float($0) / 4 }))
        for (file, reason) in [("fortran", "Fortran order"), ("int", "is not supported"), ("1d", "expected an array of vectors, (samples, features) or (batch, ..., features), found shape (5,)"),
                               ("empty3d", "holds no rows (shape (2, 0, 4))"), ("nofeatures", "holds vectors of no features (shape (2, 3, 0))"), ("nan", "NaN")] {
            XCTAssertThrowsError(try NPY.read(path: dir + "/\(file).npy")) { XCTAssertTrue("\($0)".contains(reason), "\($0)") }
        }
        // Shapes whose product overflows are refused, not trapped on.
        var huge: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }"
        let text = dict + String(repeating: " ", count: 63 - (10 + dict.utf8.count) % 64) + "\n"
        huge += [UInt8(text.utf8.count & 255), UInt8(text.utf8.count >> 8)] + Array(text.utf8)
        XCTAssertThrowsError(try NPY.decode(huge, name: "t")) { XCTAssertTrue("\($0)".contains("too large to address"), "\($0)") }
        let good = NPY.encode([1, 2, 3, 4], rows: 2, cols: 2)
        XCTAssertThrowsError(try NPY.decode(Array(good.dropLast()), name: "t")) { XCTAssertTrue("\($0)".contains("data bytes"), "\($0)") }
        XCTAssertThrowsError(try NPY.decode(Array(good.prefix(20)), name: "t")) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        XCTAssertThrowsError(try NPY.decode([1, 2, 3], name: "t")) { XCTAssertTrue("\($0)".contains("not a NumPy"), "\($0)") }
    }

    /// Whole-file inputs say what is wrong with a path, read a pipe to its end (process
    /// substitution: `--npy <(python make.py)`), and refuse a device rather than read forever.
    func testInputPathsOfEveryKind() throws {
        let dir = temporaryDirectory(self)
        XCTAssertThrowsError(try NPY.read(path: dir + "/none.npy")) { XCTAssertTrue("\($0)".hasSuffix("none.npy: does not exist"), "\($0)") }
        XCTAssertThrowsError(try NPY.read(path: dir)) { XCTAssertTrue("\($0)".hasSuffix("is a directory, not a .npy file"), "\($0)") }
        XCTAssertThrowsError(try NPY.read(path: "/dev/zero")) { XCTAssertTrue("\($0)".hasSuffix("is a device or a socket, not a .npy file"), "\($0)") }
        XCTAssertThrowsError(try JSONFile.read([Int].self, from: "/dev/null")) { XCTAssertTrue("\($0)".contains("is a device"), "\($0)") }
        let bytes = NPY.encode([1, 2, 3, 4, 5, 6], rows: 2, cols: 3)
        XCTAssertEqual(mkfifo(dir + "/pipe", 0o600), 0)
        let writer = Thread {
            let fd = open(dir + "/pipe", O_WRONLY)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            close(fd)
        }
        writer.start()
        XCTAssertEqual(try NPY.read(path: dir + "/pipe"), NPY.Matrix(rows: 2, cols: 3, values: [1, 2, 3, 4, 5, 6]))
    }

    /// A FIFO that nothing writes to is refused, not waited on forever: as training data, as a
    /// shard of a directory, as validation data and as encode's input.
    func testAFIFOWithoutAWriterIsRefusedThroughEveryDoor() throws {
        let dir = temporaryDirectory(self), wait = ["SAE_FIFO_WAIT": "0.2"]
        XCTAssertEqual(mkfifo(dir + "/fifo.npy", 0o600), 0)
        try FileManager.default.createDirectory(atPath: dir + "/shards", withIntermediateDirectories: true)
        try NPY.write(randomFloats(40 * 4, seed: 1), rows: 40, cols: 4, to: dir + "/shards/a.npy")
        XCTAssertEqual(mkfifo(dir + "/shards/b.npy", 0o600), 0)
        try NPY.write(randomFloats(40 * 4, seed: 2), rows: 40, cols: 4, to: dir + "/x.npy")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/fifo.npy", "--code", "8", "--out", dir + "/r1"], environment: wait), mentioning: "is a FIFO")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/shards", "--val-npy", dir + "/x.npy", "--code", "8", "--out", dir + "/r2"], environment: wait),
                           mentioning: "b.npy: is a FIFO")
        assertCommandFails(try runSAE(["train", "--data-npy", dir + "/x.npy", "--val-npy", dir + "/fifo.npy", "--code", "8", "--out", dir + "/r3"], environment: wait),
                           mentioning: "is a FIFO")
        let run = try runSAE(["train", "--data-npy", dir + "/x.npy", "--code", "8", "--epochs", "1", "--out", dir + "/run"], environment: wait)
        XCTAssertEqual(run.status, 0, run.stderr)
        assertCommandFails(try runSAE(["encode", dir + "/run", "--npy", dir + "/fifo.npy", "--out", dir + "/codes.npy"], environment: wait), mentioning: "is a FIFO")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/codes.npy"))
    }

    /// A .safetensors file of activations as a Python user writes it: numpy's bytes and Python's json (no library code involved).
    func testFilesWrittenByPython() throws {
        let dir = temporaryDirectory(self)
        let script = """
            import json, struct, sys
            import numpy as np
            a = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 12) / 8
            blobs = {'resid': ('F16', a.astype(np.float16).tobytes()),
                     'resid_bf16': ('BF16', (a.view(np.uint32) >> 16).astype('<u2').tobytes()),
                     'tokens': ('I32', np.arange(6, dtype='<i4').tobytes())}
            header, offset, data = {'__metadata__': {'layer': '8'}}, 0, b''
            for name, (dtype, raw) in blobs.items():
                shape = [6] if name == 'tokens' else list(a.shape)
                header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(raw)]}
                offset += len(raw); data += raw
            h = json.dumps(header).encode()
            open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + data)
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir + "/acts.safetensors"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "python3 with numpy is needed (make test installs it)")
        let expected = (0..<24).map { (Float($0) - 12) / 8 }
        for tensor in ["resid", "resid_bf16"] {
            let data = try Dataset(npy: [dir + "/acts.safetensors"], loading: .streamed, tensor: tensor)
            XCTAssertEqual(data.count, 6)
            XCTAssertEqual(data.floats(0..<6), expected, tensor)
        }
    }
}
