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

    /// Parses a safetensors file holding F32 tensors; `name` is used in errors.
    package static func decode(_ bytes: [UInt8], name: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try bytes.withUnsafeBytes { raw in
            let (views, metadata) = try views(raw, name: name)
            return (views.mapValues { Tensor(shape: $0.shape, values: $0.values) }, metadata)
        }
    }

    /// A tensor where it lies in a file's bytes (little-endian F32, maybe unaligned), valid while
    /// those bytes are.
    package struct View {
        package let shape: [Int]
        package let bytes: UnsafeRawBufferPointer
        package var count: Int { bytes.count / 4 }
        package subscript(i: Int) -> Float { bytes.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        package var values: [Float] {
            [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes) }
                initialized = count
            }
        }
    }

    /// Maps the file at `path` and hands `body` its tensors where they lie: a model or a checkpoint
    /// is then copied once, straight into its parameters (reading the file into an array and
    /// decoding it into tensors first would hold the weights twice more).
    package static func withFile<R>(_ path: String, _ body: ([String: View], [String: String]) throws -> R) throws -> R {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw SAEError.badFile(path, "cannot be read (missing or no permission)")
        }
        return try data.withUnsafeBytes { raw in
            let (views, metadata) = try views(raw, name: path)
            return try body(views, metadata)
        }
    }

    /// Parses and checks the header; the tensors stay in `bytes`.
    package static func views(_ bytes: UnsafeRawBufferPointer, name: String) throws -> (tensors: [String: View], metadata: [String: String]) {
        guard bytes.count >= 8 else { throw SAEError.badFile(name, "too short for safetensors (\(bytes.count) bytes)") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(maximumHeaderBytes) else {
            throw SAEError.badFile(name, "safetensors header claims \(n) bytes, over the \(maximumHeaderBytes >> 20) MB limit")
        }
        guard n <= UInt64(bytes.count - 8) else {
            throw SAEError.badFile(name, "safetensors header claims \(n) bytes but the file has only \(bytes.count - 8) after the length")
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
        let dataSize = bytes.count - headerEnd
        var tensors: [String: View] = [:]
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
            guard dtype == "F32" else {
                throw SAEError.badFile(name, "tensor \"\(key)\" has dtype \(dtype); only F32 is supported")
            }
            var count = 1
            var dims: [Int] = []
            for dimValue in shapeValues {
                guard let dim = dimValue.integer, dim >= 0 else { throw SAEError.badFile(name, "tensor \"\(key)\" has an invalid shape") }
                let (product, overflow) = count.multipliedReportingOverflow(by: dim)
                guard !overflow, product <= dataSize / 4 else {
                    throw SAEError.badFile(name, "tensor \"\(key)\" shape \(shapeValues.map { $0.integer ?? -1 }) is larger than the file")
                }
                count = product
                dims.append(dim)
            }
            guard begin >= 0, end >= begin, end <= dataSize else {
                throw SAEError.badFile(name, "tensor \"\(key)\" data_offsets [\(begin), \(end)] lie outside the \(dataSize) data bytes")
            }
            guard end - begin == 4 * count else {
                throw SAEError.badFile(name, "tensor \"\(key)\" has \(end - begin) bytes of data but shape \(dims) needs \(4 * count)")
            }
            ranges.append((begin, end, key))
            // Little-endian F32, as every platform Swift runs this on stores floats.
            tensors[key] = View(shape: dims, bytes: UnsafeRawBufferPointer(rebasing: bytes[(headerEnd + begin)..<(headerEnd + end)]))
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
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
