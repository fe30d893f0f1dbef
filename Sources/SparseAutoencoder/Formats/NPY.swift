import Foundation

/// NumPy's .npy format (version 1.0) for 2-D float32 arrays in C order: the magic "\x93NUMPY",
/// version bytes, a little-endian UInt16 header length, a Python-dict header padded with spaces
/// and a newline to a multiple of 64 bytes, then the raw little-endian data.
///
///     try NPY.write(codes, rows: 10_000, cols: 64, to: "codes.npy")   // np.load gives (10000, 64) float32
public enum NPY {
    public static func encode(_ values: [Float], rows: Int, cols: Int) -> [UInt8] {
        precondition(values.count == rows * cols, "\(values.count) values are not \(rows) x \(cols)")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xff), UInt8(length >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + 4 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// Writes atomically (temp file + rename).
    public static func write(_ values: [Float], rows: Int, cols: Int, to path: String) throws {
        try AtomicFile.write(encode(values, rows: rows, cols: cols), to: path)
    }
}
