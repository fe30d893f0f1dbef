import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of .npy and .safetensors files read as one (sum of their rows, features) array, row by
/// row from disk: the storage of a streamed `Dataset`. Each file is opened once and its header
/// parsed and checked (`NPY.parseHeader`, `Safetensors.layouts`: one tensor of each
/// .safetensors file, the only one or the one named); only its descriptor, row count, data
/// offset and dtype are kept. Both formats store a C-order array as raw little-endian values, so
/// from there on a row is read the same way from either.
///
/// Rows are read with `pread` into the caller's buffer, so the data pass through the kernel's
/// page cache (which the kernel reclaims as it needs, and which does not count in the process's
/// resident memory) and never through pages of this process: memory stays the same however
/// large the files are. (Touched pages of an `mmap` would count in the resident set.) Runs of
/// consecutive rows in one file are read with one call. float32 values are read in place;
/// float16, bfloat16 and float64 ones through a small stack buffer, converted (`StoredFloat`; all
/// shards of one dtype).
///
/// Reading cannot throw (it runs inside a training step): a read that fails (a file shortened
/// or removed while in use) leaves zeros, and a row holding NaN or infinity is passed on as
/// it is; either is recorded in `failure` (the first one), which the training run checks.
final class VectorShards: @unchecked Sendable {
    struct Shard {
        let path: String
        let descriptor: Int32
        let rows: Int
        /// The first row's index in the whole set.
        let firstRow: Int
        let dataOffset: Int
        let dtype: StoredFloat
    }

    let shards: [Shard]
    /// Rows in all shards.
    let count: Int
    let featureCount: Int
    /// The values' type on disk (every shard's: mixed dtypes are refused).
    var dtype: StoredFloat { shards[0].dtype }
    /// The bytes of values the shards hold on disk.
    var dataBytes: Int { shards.reduce(0) { $0 + $1.rows * featureCount * $1.dtype.width } }
    private let lock = NSLock()
    private var firstFailure: SAEError?

    /// Opens `files` (regular .npy or .safetensors files, in this order; see `files(for:)`),
    /// checking every header: an array of vectors (2-D, or N-D with the leading axes flattened
    /// into rows), float16, bfloat16 (safetensors), float32 or float64, C order, at least one row,
    /// data exactly as long as the shape says, and the same number of columns and the same dtype
    /// in every file. In a .safetensors file the array is its only tensor, or the one named
    /// `tensor` (refused when no file is .safetensors: the name would go unused).
    init(files: [String], tensor: String? = nil) throws {
        if let tensor, !files.contains(where: Self.isSafetensors) {
            throw SAEError("a tensor name (\"\(tensor)\") was given, but no file is .safetensors: .npy files hold one array each")
        }
        precondition(!files.isEmpty)
        try Self.allowOpenFiles(files.count)
        var shards: [Shard] = []
        shards.reserveCapacity(files.count)
        var rows = 0, width = 0
        do {
            for path in files {
                // Without waiting for a FIFO's writer (shards are read at offsets: regular files only).
                let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
                guard fd >= 0 else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
                var info = stat()
                guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                    close(fd)
                    let what = info.st_mode & S_IFMT == S_IFIFO ? "a FIFO" : info.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file"
                    throw SAEError.badFile(path, "is \(what): shards that are streamed must be regular .npy files")
                }
                let header: NPY.Header
                do {
                    header = Self.isSafetensors(path) ? try Self.safetensorsHeader(of: fd, path: path, tensor: tensor)
                                                      : try Self.header(of: fd, path: path)
                } catch {
                    close(fd)
                    throw error
                }
                if let first = shards.first, header.cols != width {
                    close(fd)
                    throw SAEError.badFile(path, "has \(header.cols) features per row but \(first.path) has \(width): every shard needs the same width")
                }
                // Mixed dtypes are most likely shards from two different writers: refused, not guessed at.
                if let first = shards.first, header.dtype != first.dtype {
                    close(fd)
                    throw SAEError.badFile(path, "holds \(header.dtype) values but \(first.path) holds \(first.dtype): every shard needs the same dtype")
                }
                width = header.cols
                shards.append(Shard(path: path, descriptor: fd, rows: header.rows, firstRow: rows,
                                    dataOffset: header.dataOffset, dtype: header.dtype))
                let (sum, overflow) = rows.addingReportingOverflow(header.rows)
                guard !overflow else { throw SAEError.badFile(path, "the shards hold more rows than can be counted") }
                rows = sum
            }
        } catch {
            for shard in shards { close(shard.descriptor) }
            throw error
        }
        self.shards = shards
        count = rows
        featureCount = width
    }

    deinit {
        for shard in shards { close(shard.descriptor) }
    }

    /// The files `paths` name: one directory means its `*.npy` entries, or if it has none its
    /// `*.safetensors` entries, in sorted name order (other entries and hidden files are ignored);
    /// otherwise each path must be a file. Refused, with the path: a missing path, a directory
    /// without such files, a directory among several paths, and an entry `x.npy` that is itself a
    /// directory. Whether a file really is what its name says, its
    /// header says (a file not named .safetensors is read as .npy).
    static func files(for paths: [String]) throws -> [String] {
        guard !paths.isEmpty else { throw SAEError("no .npy or .safetensors file given") }
        func isDirectory(_ path: String) throws -> Bool {
            var directory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &directory) else {
                var info = stat()
                throw SAEError.badFile(path, InputFile.reason(stat(path, &info) == 0 ? EACCES : errno))
            }
            return directory.boolValue
        }
        if paths.count == 1, try isDirectory(paths[0]) {
            let directory = paths[0]
            let names: [String]
            do {
                names = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw SAEError.badFile(directory, "cannot be listed (no permission?)")
            }
            let base = directory.hasSuffix("/") ? directory : directory + "/"
            let visible = names.filter { !$0.hasPrefix(".") }
            let npy = visible.filter { $0.hasSuffix(".npy") }, safetensors = visible.filter(isSafetensors)
            // .npy shards first: a directory of them read as before, whatever else lies there
            // (a model's .safetensors weights, a run's checkpoint).
            let files = (npy.isEmpty ? safetensors : npy).sorted().map { base + $0 }
            guard !files.isEmpty else { throw SAEError.badFile(directory, "holds no .npy or .safetensors files (a directory of shards needs *.npy or *.safetensors files)") }
            for file in files where try isDirectory(file) {
                throw SAEError.badFile(file, "is a directory, not a \(isSafetensors(file) ? ".safetensors" : ".npy") file")
            }
            return files
        }
        for path in paths where try isDirectory(path) {
            throw SAEError.badFile(path, "is a directory, but a file is expected here: give one directory of shards on its own, or several .npy or .safetensors files")
        }
        return paths
    }

    /// The size in bytes of the file at `path` (following symbolic links), or nil.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    /// Whether `path` names a safetensors file (by its name, as `files(for:)` lists them).
    static func isSafetensors(_ path: String) -> Bool { path.hasSuffix(".safetensors") }

    /// The vectors of the open safetensors file `fd`, as an .npy header would give them: its only
    /// tensor or the one named `tensor`, of a float dtype, with at least two axes (the leading
    /// ones flattened into rows), one row and one feature.
    private static func safetensorsHeader(of fd: Int32, path: String, tensor: String?) throws -> NPY.Header {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
        let tensors = try Safetensors.layouts(of: fd, size: Int(info.st_size), path: path).tensors
        func listed() -> String { tensors.keys.sorted().map { "\($0) \(tensors[$0]!.shape)" }.joined(separator: ", ") }
        let name: String
        if let tensor {
            guard tensors[tensor] != nil else {
                throw SAEError.badFile(path, "has no tensor \"\(tensor)\" (\(tensors.isEmpty ? "it holds none" : "its tensors: " + listed()))")
            }
            name = tensor
        } else {
            guard tensors.count == 1, let only = tensors.keys.first else {
                throw SAEError.badFile(path, tensors.isEmpty ? "holds no tensors"
                    : "holds \(tensors.count) tensors (\(listed())): name the one of vectors with --tensor")
            }
            name = only
        }
        let layout = tensors[name]!
        guard let dtype = StoredFloat(safetensorsName: layout.dtype) else {
            throw SAEError.badFile(path, "tensor \"\(name)\" has dtype \(layout.dtype): vectors must be F32, F16, BF16 or F64")
        }
        let shape = layout.shape
        guard shape.count >= 2 else {
            throw SAEError.badFile(path, "tensor \"\(name)\" has shape \(shape): vectors need (samples, features) or (batch, ..., features)")
        }
        let rows = shape.dropLast().reduce(1, *)   // (no overflow: `parse` checked the product against the file)
        guard rows > 0 else { throw SAEError.badFile(path, "tensor \"\(name)\" holds no rows (shape \(shape))") }
        guard shape.last! > 0 else { throw SAEError.badFile(path, "tensor \"\(name)\" holds vectors of no features (shape \(shape))") }
        return NPY.Header(rows: rows, cols: shape.last!, dtype: dtype, dataOffset: layout.offset, byteCount: layout.count * layout.width)
    }

    /// Reads and checks the header of the open file `fd`, and that the file is as long as it says.
    private static func header(of fd: Int32, path: String) throws -> NPY.Header {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SAEError.badFile(path, "is not a regular file") }
        let size = Int(info.st_size)
        var prefix = [UInt8](repeating: 0, count: min(size, NPY.preambleSize))
        guard readFully(fd, &prefix, at: 0) else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
        let end = try NPY.headerEnd(prefix, name: path)
        var bytes = [UInt8](repeating: 0, count: min(end, size))
        guard readFully(fd, &bytes, at: 0) else { throw SAEError.badFile(path, "cannot be read (\(String(cString: strerror(errno))))") }
        let header = try NPY.parseHeader(bytes, name: path)
        try header.checkDataSize(size - header.dataOffset, name: path)
        return header
    }

    private static func readFully(_ fd: Int32, _ bytes: inout [UInt8], at offset: Int) -> Bool {
        bytes.withUnsafeMutableBytes { readFully(fd, $0.baseAddress, $0.count, at: offset) == $0.count }
    }

    /// pread until `count` bytes are in, or the file ends or fails; returns the bytes read.
    @inline(__always)
    private static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int, at offset: Int) -> Int {
        var done = 0
        while done < count {
            let n = pread(fd, buffer! + done, count - done, off_t(offset + done))
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        return done
    }

    /// A directory of many shards needs as many descriptors: raises the soft limit on open
    /// files towards the hard limit if needed, and refuses if even that is too low.
    private static func allowOpenFiles(_ files: Int) throws {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return }
        let needed = rlim_t(files + 64)
        guard limit.rlim_cur < needed else { return }
        if limit.rlim_max >= needed {   // RLIM_INFINITY is the largest value
            limit.rlim_cur = needed
            if setrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 { return }
        }
        throw SAEError("\(files) .npy shards need \(files) open files, but this process may open at most \(limit.rlim_max): merge shards or raise `ulimit -n`")
    }

    #if canImport(Glibc)
    private static let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let RLIMIT_NOFILE_VALUE = RLIMIT_NOFILE
    #endif

    /// The first read failure or non-finite row met so far (nil if none).
    var failure: SAEError? {
        lock.lock()
        defer { lock.unlock() }
        return firstFailure
    }

    private func record(_ error: SAEError) {
        lock.lock()
        if firstFailure == nil { firstFailure = error }
        lock.unlock()
    }

    /// The shard holding row `row` (binary search over the first rows).
    @inline(__always)
    private func shardIndex(of row: Int) -> Int {
        var (lo, hi) = (0, shards.count - 1)
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if shards[mid].firstRow <= row { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Writes the rows at `indices` into `out` (indices.count, featureCount), reading each run of
    /// consecutive indices that lie in one shard with one call.
    func read(_ indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Float>) {
        let d = featureCount
        var k = 0
        while k < indices.count {
            let row = indices[k]
            precondition(row >= 0 && row < count, "row \(row) outside 0..<\(count)")
            let s = shardIndex(of: row), shard = shards[s]
            var run = 1
            while k + run < indices.count && indices[k + run] == row + run && row + run < shard.firstRow + shard.rows { run += 1 }
            read(shard, rows: (row - shard.firstRow)..<(row - shard.firstRow + run), into: out + k * d)
            k += run
        }
    }

    /// Writes rows `range` of the whole set into `out` (range.count, featureCount).
    func read(_ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        guard !range.isEmpty else { return }
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "rows \(range) outside 0..<\(count)")
        var row = range.lowerBound
        while row < range.upperBound {
            let shard = shards[shardIndex(of: row)]
            let end = min(range.upperBound, shard.firstRow + shard.rows)
            read(shard, rows: (row - shard.firstRow)..<(end - shard.firstRow), into: out + (row - range.lowerBound) * featureCount)
            row = end
        }
    }

    /// Rows `rows` (numbered within `shard`) into `out`.
    private func read(_ shard: Shard, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let d = featureCount, width = shard.dtype.width
        var complete = true
        switch shard.dtype {
        case .float32:
            let bytes = rows.count * d * 4
            complete = Self.readFully(shard.descriptor, out, bytes, at: shard.dataOffset + rows.lowerBound * d * width) == bytes
            #if _endian(big)
            for i in 0..<(rows.count * d) { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
            #endif
        case .float64, .float16, .bfloat16:
            // A few rows at a time through a stack buffer, converted to float32.
            let chunk = max(1, min(rows.count, 65_536 / (d * width)))
            withUnsafeTemporaryAllocation(byteCount: chunk * d * width, alignment: 8) { buffer in
                var r = rows.lowerBound
                while r < rows.upperBound && complete {
                    let n = min(chunk, rows.upperBound - r), bytes = n * d * width
                    complete = Self.readFully(shard.descriptor, buffer.baseAddress!, bytes, at: shard.dataOffset + r * d * width) == bytes
                    shard.dtype.convert(UnsafeRawPointer(buffer.baseAddress!), into: out + (r - rows.lowerBound) * d, count: n * d)
                    r += n
                }
            }
        }
        guard complete else {
            out.update(repeating: 0, count: rows.count * d)
            record(SAEError.badFile(shard.path, "rows \(rows.lowerBound)..<\(rows.upperBound) could not be read (the file was shortened or removed while in use?)"))
            return
        }
        for r in 0..<rows.count {
            let row = out + r * d
            var finite = true
            for j in 0..<d where !row[j].isFinite { finite = false }
            if !finite {
                record(SAEError.badFile(shard.path, "row \(rows.lowerBound + r) holds NaN or infinite values"))
                break
            }
        }
    }
}
