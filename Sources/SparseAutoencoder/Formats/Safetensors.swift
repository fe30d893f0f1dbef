import Foundation

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON header
/// (`{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}`,
/// padded with spaces to a multiple of 8), then the raw little-endian tensor data.
/// Readable by `safetensors` and by numpy with a few lines of Python.
package enum Safetensors {
    package struct Tensor: Equatable, Sendable {
        package var shape: [Int]
        package var values: [Float]

        package init(shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
            self.shape = shape
            self.values = values
        }
    }

    /// Headers larger than this are refused (real ones are a few kB).
    package static let maximumHeaderBytes = 100 << 20

    /// Serialises F32 tensors (written in the order given) and string metadata.
    package static func encode(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:]) -> [UInt8] {
        var out = header(tensors.map { ($0.name, $0.tensor.shape) }, metadata: metadata)
        // Floats are little-endian on every platform Swift runs this on: copied as bytes, whole.
        assert(1.littleEndian == 1)
        for (_, tensor) in tensors { tensor.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// The 8-byte length and the JSON header (padded to a multiple of 8) for tensors of these
    /// names and shapes, whose data follows in that order.
    static func header(_ tensors: [(name: String, shape: [Int])], metadata: [String: String]) -> [UInt8] {
        var entries: [String] = []
        if !metadata.isEmpty {
            let fields = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for (name, shape) in tensors {
            let end = offset + 4 * shape.reduce(1, *)
            entries.append("\(jsonString(name)):{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var out = [UInt8]()
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        return out + header
    }

    /// A tensor written straight from where it lives: its name, its shape, and `emit`, which
    /// streams its shape.product F32 values, in order, into the file.
    package struct Source {
        package let name: String
        package let shape: [Int]
        package let emit: (inout AtomicFile.Sink) throws -> Void

        package init(name: String, shape: [Int], emit: @escaping (inout AtomicFile.Sink) throws -> Void) {
            (self.name, self.shape, self.emit) = (name, shape, emit)
        }

        /// Floats in memory that outlive the write (the model's parameters, Adam's moments).
        package init(name: String, shape: [Int], values: UnsafePointer<Float>) {
            let count = shape.reduce(1, *)
            self.init(name: name, shape: shape) { try $0.write(UnsafeRawBufferPointer(start: values, count: 4 * count)) }
        }
    }

    /// Writes the tensors and metadata atomically to `path`, streaming each tensor from its
    /// source: the file's bytes are never gathered in memory (`encode` gathers them).
    package static func write(_ tensors: [Source], metadata: [String: String] = [:], to path: String,
                              beforeRename: () -> Void = {}) throws {
        try AtomicFile.write(to: path, beforeRename: beforeRename) { sink in
            try sink.write(header(tensors.map { ($0.name, $0.shape) }, metadata: metadata))
            for tensor in tensors { try tensor.emit(&sink) }
        }
    }

    /// Parses a safetensors file holding F32 tensors (with `converting`, also F16, BF16 and F64
    /// ones, converted to Float: SAEs trained elsewhere); `name` is used in errors.
    package static func decode(_ bytes: [UInt8], name: String, converting: Bool = false) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try bytes.withUnsafeBytes { raw in
            let (entries, metadata) = try parse(raw, fileSize: raw.count, name: name, dtypes: converting ? Self.convertible : ["F32": 4])
            // Little-endian values, as every platform Swift runs this on stores them (maybe unaligned).
            let tensors = entries.mapValues { entry in
                Tensor(shape: entry.shape, values: [Float](unsafeUninitializedCapacity: entry.count) { buffer, initialized in
                    let data = UnsafeRawBufferPointer(rebasing: raw[entry.offset..<(entry.offset + entry.width * entry.count)])
                    switch entry.dtype {
                    case "F32": UnsafeMutableRawBufferPointer(buffer).copyMemory(from: data)
                    case "F64": for i in 0..<entry.count { buffer[i] = Float(data.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
                    case "F16": for i in 0..<entry.count { buffer[i] = Float(Float16(bitPattern: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
                    default:   // BF16: the upper half of a float's bits
                        for i in 0..<entry.count { buffer[i] = Float(bitPattern: UInt32(data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
                    }
                    initialized = entry.count
                })
            }
            return (tensors, metadata)
        }
    }

    /// The dtypes `decode(converting: true)` reads, and their bytes per value.
    private static let convertible: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8]

    /// A tensor in an open file: its shape and where its little-endian F32 values lie.
    package struct View: TensorValues {
        package let shape: [Int]
        /// Byte offset of the first value in the file.
        let offset: Int
        let file: Int32, name: String
        package var count: Int { shape.reduce(1, *) }

        /// Reads the values `range` into `out` with pread: a file shortened or failing while it is
        /// read gives an error (a memory map would end the process with SIGBUS).
        package func read(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
            try readAll(file, into: UnsafeMutableRawPointer(out), bytes: 4 * range.count, at: offset + 4 * range.lowerBound, name: name)
        }
    }

    /// Opens the file at `path`, checks its header, and hands `body` its tensors to read
    /// straight where they belong (a model's parameters, Adam's moments): reading the file into
    /// an array and decoding it into tensors first would hold the weights twice more.
    package static func withFile<R>(_ path: String, _ body: ([String: View], [String: String]) throws -> R) throws -> R {
        // O_NONBLOCK: a FIFO without a writer is refused below instead of blocking the open.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw SAEError.badFile(path, "is a directory, not a safetensors file")
        default: throw SAEError.badFile(path, "is not a regular file (a pipe or a device); give the safetensors file itself")
        }
        let (entries, metadata) = try layouts(of: fd, size: Int(info.st_size), path: path, dtypes: ["F32": 4])
        return try body(entries.mapValues { View(shape: $0.shape, offset: $0.offset, file: fd, name: path) }, metadata)
    }

    /// Where the tensors of the open regular file `fd` (`size` bytes) lie, checked (`parse`), and
    /// its metadata. Tensors of a dtype outside `dtypes` are refused; by default every dtype
    /// safetensors defines is allowed (a file of activations may also hold token ids), and the
    /// caller checks the tensor it reads.
    package static func layouts(of fd: Int32, size: Int, path: String,
                                dtypes: [String: Int] = Self.everyDType) throws -> (tensors: [String: Layout], metadata: [String: String]) {
        // The 8-byte length, then (when it is plausible) the header; `parse` checks both.
        var head = [UInt8](repeating: 0, count: min(size, 8))
        try head.withUnsafeMutableBytes { try readAll(fd, into: $0.baseAddress!, bytes: $0.count, at: 0, name: path) }
        if size >= 8 {
            let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(head[$1]) << (8 * UInt64($1)) }
            if n <= UInt64(maximumHeaderBytes) && n <= UInt64(size - 8) {
                head += [UInt8](repeating: 0, count: Int(n))
                try head.withUnsafeMutableBytes { try readAll(fd, into: $0.baseAddress! + 8, bytes: Int(n), at: 8, name: path) }
            }
        }
        return try head.withUnsafeBytes { try parse($0, fileSize: size, name: path, dtypes: dtypes) }
    }

    /// Bytes per value of every dtype safetensors defines.
    package static let everyDType: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
        "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
    ]

    /// pread until `bytes` bytes from `offset` are in `out`.
    private static func readAll(_ fd: Int32, into out: UnsafeMutableRawPointer, bytes total: Int, at offset: Int, name: String) throws {
        var done = 0
        while done < total {
            let n = pread(fd, out + done, total - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw SAEError.badFile(name, n == 0 ? "was shortened while it was being read" : "could not be read (\(String(cString: strerror(errno))))")
            }
            done += n
        }
    }

    /// Where a tensor lies: its shape, dtype (safetensors' name), bytes per value, and its first
    /// value's byte offset in the file.
    package struct Layout: Sendable {
        package let shape: [Int], offset: Int, dtype: String, width: Int
        package var count: Int { shape.reduce(1, *) }
    }

    /// Checks the header at the start of a file of `fileSize` bytes (`bytes` holds the length and,
    /// when the length is plausible, the header) and returns where each tensor lies.
    private static func parse(_ bytes: UnsafeRawBufferPointer, fileSize: Int, name: String,
                              dtypes: [String: Int]) throws -> (tensors: [String: Layout], metadata: [String: String]) {
        guard fileSize >= 8 else { throw SAEError.badFile(name, "too short for safetensors (\(fileSize) bytes)") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maximumHeaderBytes) else {
            throw SAEError.badFile(name, "safetensors header claims \(n) bytes, over the \(maximumHeaderBytes >> 20) MB limit")
        }
        guard n <= UInt64(fileSize - 8) else {
            throw SAEError.badFile(name, "safetensors header claims \(n) bytes but the file has only \(fileSize - 8) after the length")
        }
        let headerEnd = 8 + Int(n)
        let header: [(key: String, value: StrictJSON.Value)]
        do {
            guard case .object(let members) = try StrictJSON.parse(Array(bytes[8..<headerEnd])[...]) else {
                throw SAEError.badFile(name, "safetensors header is not a JSON object")
            }
            header = members
        } catch let failure as StrictJSON.Failure {
            throw SAEError.badFile(name, "safetensors header is not valid JSON (\(failure.message))")
        }
        let dataSize = fileSize - headerEnd
        var tensors: [String: Layout] = [:]
        var metadata: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (key, value) in header {
            if key == "__metadata__" {
                guard case .object(let entries) = value, entries.allSatisfy({ $0.value.string != nil }) else {
                    throw SAEError.badFile(name, "safetensors __metadata__ must map strings to strings")
                }
                for (k, v) in entries { metadata[k] = v.string! }
                continue
            }
            guard case .object(let fields) = value,
                  let dtype = fields.first(where: { $0.key == "dtype" })?.value.string,
                  case .array(let shapeValues)? = fields.first(where: { $0.key == "shape" })?.value,
                  case .array(let offsetValues)? = fields.first(where: { $0.key == "data_offsets" })?.value,
                  offsetValues.count == 2, let begin = offsetValues[0].integer, let end = offsetValues[1].integer else {
                throw SAEError.badFile(name, "tensor \"\(key)\" needs dtype, shape and two data_offsets")
            }
            guard let width = dtypes[dtype] else {
                throw SAEError.badFile(name, "tensor \"\(key)\" has dtype \(dtype); only \(dtypes.keys.sorted().joined(separator: ", ")) \(dtypes.count == 1 ? "is" : "are") supported")
            }
            var count = 1
            var dims: [Int] = []
            for dimValue in shapeValues {
                guard let dim = dimValue.integer, dim >= 0 else { throw SAEError.badFile(name, "tensor \"\(key)\" has an invalid shape") }
                let (product, overflow) = count.multipliedReportingOverflow(by: dim)
                guard !overflow, product <= dataSize / width else {
                    throw SAEError.badFile(name, "tensor \"\(key)\" shape \(shapeValues.map { $0.integer ?? -1 }) is larger than the file")
                }
                count = product
                dims.append(dim)
            }
            guard begin >= 0, end >= begin, end <= dataSize else {
                throw SAEError.badFile(name, "tensor \"\(key)\" data_offsets [\(begin), \(end)] lie outside the \(dataSize) data bytes")
            }
            guard end - begin == width * count else {
                throw SAEError.badFile(name, "tensor \"\(key)\" has \(end - begin) bytes of data but shape \(dims) needs \(width * count)")
            }
            ranges.append((begin, end, key))
            tensors[key] = Layout(shape: dims, offset: headerEnd + begin, dtype: dtype, width: width)
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw SAEError.badFile(name, "tensors \"\(a.2)\" and \"\(b.2)\" overlap")
        }
        return (tensors, metadata)
    }

    private static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += "\\u00" + String(scalar.value, radix: 16).leftPadded(to: 2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A tensor whose values can be read range by range: one in an open file (`Safetensors.View`) or
/// in memory (`Safetensors.Tensor`, e.g. converted from another format by `SAEImport`).
package protocol TensorValues {
    var shape: [Int] { get }
    func read(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws
}

extension Safetensors.Tensor: TensorValues {
    package func read(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
        values.withUnsafeBufferPointer { out.update(from: $0.baseAddress! + range.lowerBound, count: range.count) }
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
