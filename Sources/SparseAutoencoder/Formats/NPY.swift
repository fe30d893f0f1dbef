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

    /// A 2-D array read from a .npy file, as float32 (float64 files are converted).
    public struct Matrix: Equatable, Sendable {
        public var rows: Int
        public var cols: Int
        public var values: [Float]
    }

    /// Reads a 2-D float32 or float64 array in C order (versions 1, 2 and 3 of the format).
    public static func read(path: String) throws -> Matrix {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SAEError.badFile(path, "cannot be read (missing or no permission)")
        }
        return try decode([UInt8](data), name: path)
    }

    /// Parses .npy bytes; `name` is used in errors.
    public static func decode(_ bytes: [UInt8], name: String) throws -> Matrix {
        guard bytes.count >= 10, bytes[0] == 0x93, Array(bytes[1..<6]) == Array("NUMPY".utf8) else {
            throw SAEError.badFile(name, "not a NumPy .npy file (no \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let (headerLength, headerStart): (Int, Int)
        switch major {
        case 1: (headerLength, headerStart) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw SAEError.badFile(name, "truncated .npy header") }
            (headerLength, headerStart) = (Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24, 12)
        default: throw SAEError.badFile(name, ".npy format version \(major) is not supported (1, 2 or 3 are)")
        }
        guard headerLength <= bytes.count - headerStart else { throw SAEError.badFile(name, "truncated .npy header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func field(_ key: String) -> Substring? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return header[r.upperBound...].drop { $0 == " " }
        }
        guard let descrField = field("descr"), let quote = descrField.first, quote == "'" || quote == "\"",
              let end = descrField.dropFirst().firstIndex(of: quote) else {
            throw SAEError.badFile(name, ".npy header has no dtype ('descr')")
        }
        let descr = String(descrField[descrField.index(after: descrField.startIndex)..<end])
        let width: Int
        switch descr {
        case "<f4": width = 4
        case "<f8": width = 8
        default: throw SAEError.badFile(name, "dtype \(descr) is not supported: save float32 or float64 (little-endian), e.g. x.astype('float32')")
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
        guard dims.count == 2, let rows = Int(dims[0]), let cols = Int(dims[1]), rows > 0, cols > 0 else {
            throw SAEError.badFile(name, "expected a 2-D array (samples, features), found shape (\(dims.joined(separator: ", ")))")
        }
        let dataStart = headerStart + headerLength
        let (count, o1) = rows.multipliedReportingOverflow(by: cols)
        let (size, o2) = count.multipliedReportingOverflow(by: width)
        guard !o1, !o2, size == bytes.count - dataStart else {
            throw SAEError.badFile(name, "shape (\(rows), \(cols)) of \(descr) needs \(o1 || o2 ? "more" : String(size)) data bytes, the file has \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart
            for i in 0..<count {
                values[i] = width == 4
                    ? Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self)))
                    : Float(Double(bitPattern: UInt64(littleEndian: (base + 8 * i).loadUnaligned(as: UInt64.self))))
            }
        }
        guard values.allSatisfy(\.isFinite) else { throw SAEError.badFile(name, "the array holds NaN or infinite values") }
        return Matrix(rows: rows, cols: cols, values: values)
    }
}
