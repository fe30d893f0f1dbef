import Foundation

/// NumPy's .npy format for 2-D arrays in C order (written: version 1.0, float32; read: versions
/// 1 to 3, float32 or float64, and N-D arrays as (rows, last axis), their leading axes flattened,
/// as activations of shape (batch, seq, d) come): the magic "\x93NUMPY", version bytes, a little-endian header
/// length, a Python-dict header padded with spaces and a newline to a multiple of 64 bytes, then
/// the raw little-endian data.
///
///     try NPY.write(codes, rows: 10_000, cols: 64, to: "codes.npy")   // np.load gives (10000, 64) float32
public enum NPY {
    package static func encode(_ values: [Float], rows: Int, cols: Int) -> [UInt8] {
        precondition(values.count == rows * cols, "\(values.count) values are not \(rows) x \(cols)")
        var out = header(rows: rows, cols: cols)
        out.reserveCapacity(out.count + 4 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// Everything before the data of a (rows, cols) float32 array: its rows * cols little-endian
    /// floats follow (a writer may stream them).
    package static func header(rows: Int, cols: Int) -> [UInt8] {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = UInt16(header.utf8.count)
        out += [UInt8(length & 0xff), UInt8(length >> 8)]
        return out + Array(header.utf8)
    }

    /// Writes atomically (temp file + rename).
    public static func write(_ values: [Float], rows: Int, cols: Int, to path: String) throws {
        try AtomicFile.write(encode(values, rows: rows, cols: cols), to: path)
    }

    /// A 2-D array read from a .npy file, as float32 (float64 files are converted).
    public struct Matrix: Equatable, Sendable {
        public var rows: Int
        public var cols: Int
        public var values: [Float]
    }

    /// What a .npy file's header says about its array, checked: a 2-D float32 or float64
    /// little-endian array in C order with at least one row and one column, whose `byteCount`
    /// data bytes start at `dataOffset`. Parsed by the in-memory reader (`decode`) and by the
    /// file-backed shards (`VectorShards`) alike.
    package struct Header: Equatable, Sendable {
        package var rows: Int
        package var cols: Int
        package var dtype: StoredFloat
        /// Where the data start (the magic, version, length and padded header come first).
        package var dataOffset: Int
        /// rows * cols * dtype.width (known not to overflow).
        package var byteCount: Int

        /// Refuses data that are not exactly `byteCount` bytes: fewer means a truncated file.
        func checkDataSize(_ available: Int, name: String) throws {
            guard available != byteCount else { return }
            throw SAEError.badFile(name, "\(available < byteCount ? "is truncated: " : "")shape (\(rows), \(cols)) of \(dtype.npyDescr) "
                + "needs \(byteCount) data bytes, the file has \(available)")
        }
    }

    /// Reads a 2-D float32 or float64 array in C order (versions 1, 2 and 3 of the format).
    public static func read(path: String) throws -> Matrix {
        try decode([UInt8](try InputFile.contents(of: path, kind: ".npy file")), name: path)
    }

    /// Parses .npy bytes; `name` is used in errors.
    package static func decode(_ bytes: [UInt8], name: String) throws -> Matrix {
        let header = try parseHeader(bytes, name: name)
        try header.checkDataSize(bytes.count - header.dataOffset, name: name)
        let count = header.rows * header.cols, dtype = header.dtype, width = dtype.width
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + header.dataOffset
            for i in 0..<count { values[i] = dtype.load(base + width * i) }
        }
        guard values.allSatisfy(\.isFinite) else { throw SAEError.badFile(name, "the array holds NaN or infinite values") }
        return Matrix(rows: header.rows, cols: header.cols, values: values)
    }

    /// The bytes before the header dict: 10 for version 1, 12 for versions 2 and 3.
    static let preambleSize = 12

    /// How many bytes from the file's start the header occupies (= where the data start), from
    /// the file's first bytes (`preambleSize` of them, or fewer if the file is shorter).
    static func headerEnd(_ prefix: [UInt8], name: String) throws -> Int {
        guard prefix.count >= 10, prefix[0] == 0x93, Array(prefix[1..<6]) == Array("NUMPY".utf8) else {
            throw SAEError.badFile(name, "not a NumPy .npy file (no \\x93NUMPY magic)")
        }
        let major = prefix[6]
        switch major {
        case 1: return 10 + (Int(prefix[8]) | Int(prefix[9]) << 8)
        case 2, 3:
            guard prefix.count >= 12 else { throw SAEError.badFile(name, "truncated .npy header") }
            return 12 + (Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24)
        default: throw SAEError.badFile(name, ".npy format version \(major) is not supported (1, 2 or 3 are)")
        }
    }

    /// Parses and checks the header at the start of `bytes` (which must hold at least the whole
    /// header; the data may follow or not).
    package static func parseHeader(_ bytes: [UInt8], name: String) throws -> Header {
        let dataStart = try headerEnd(Array(bytes.prefix(preambleSize)), name: name)
        let headerStart = bytes[6] == 1 ? 10 : 12
        guard dataStart <= bytes.count else { throw SAEError.badFile(name, "truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<dataStart], as: UTF8.self)
        func field(_ key: String) -> Substring? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return header[r.upperBound...].drop { $0 == " " }
        }
        guard let descrField = field("descr"), let quote = descrField.first, quote == "'" || quote == "\"",
              let end = descrField.dropFirst().firstIndex(of: quote) else {
            throw SAEError.badFile(name, ".npy header has no dtype ('descr')")
        }
        let descr = String(descrField[descrField.index(after: descrField.startIndex)..<end])
        guard let dtype = StoredFloat(npyDescr: descr) else {
            throw SAEError.badFile(name, "dtype \(descr) is not supported: save float32, float64 or float16 (little-endian), e.g. x.astype('float32')")
        }
        guard let order = field("fortran_order") else { throw SAEError.badFile(name, ".npy header has no fortran_order") }
        guard order.hasPrefix("False") else {
            throw SAEError.badFile(name, "the array is in Fortran order; save a C-order copy (np.ascontiguousarray)")
        }
        guard let shapeField = field("shape"), shapeField.first == "(", let close = shapeField.firstIndex(of: ")") else {
            throw SAEError.badFile(name, ".npy header has no shape")
        }
        let dims = shapeField[shapeField.index(after: shapeField.startIndex)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        // (samples, features), or (batch, seq, ..., features) as activations come: the leading
        // axes are flattened into rows (C order keeps each row's features together).
        let shape = dims.compactMap { Int($0) }
        let shapeText = "(\(dims.joined(separator: ", "))\(dims.count == 1 ? "," : ""))"
        guard shape.count == dims.count, shape.count >= 2, shape.allSatisfy({ $0 >= 0 }) else {
            throw SAEError.badFile(name, "expected an array of vectors, (samples, features) or (batch, ..., features), found shape \(shapeText)")
        }
        let cols = shape.last!
        var rows = 1
        for n in shape.dropLast() {
            let (product, overflow) = rows.multipliedReportingOverflow(by: n)
            guard !overflow else { throw SAEError.badFile(name, "shape \(shapeText) is too large to address") }
            rows = product
        }
        guard rows > 0 else { throw SAEError.badFile(name, "holds no rows (shape \(shapeText)): every .npy file needs at least one sample") }
        guard cols > 0 else { throw SAEError.badFile(name, "holds vectors of no features (shape \(shapeText))") }
        let (count, o1) = rows.multipliedReportingOverflow(by: cols)
        let (size, o2) = count.multipliedReportingOverflow(by: dtype.width)
        guard !o1, !o2 else { throw SAEError.badFile(name, "shape \(shapeText) is too large to address") }
        return Header(rows: rows, cols: cols, dtype: dtype, dataOffset: dataStart, byteCount: size)
    }
}
