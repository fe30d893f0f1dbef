import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of .npy files read as one (sum of their rows, features) array, row by row from disk:
/// the storage of a streamed `Dataset`. Each file is opened once and its header parsed and
/// checked (`NPY.parseHeader`); only its descriptor, row count, data offset and dtype are kept.
///
/// Rows are read with `pread` into the caller's buffer, so the data pass through the kernel's
/// page cache (which the kernel reclaims as it needs, and which does not count in the process's
/// resident memory) and never through pages of this process: memory stays the same however
/// large the files are. (Touched pages of an `mmap` would count in the resident set.) Runs of
/// consecutive rows in one file are read with one call. float32 files are read in place;
/// float64 files through a small stack buffer, converted row by row (all shards of one dtype).
///
/// Reading cannot throw (it runs inside a training step): a read that fails (a file shortened
/// or removed while in use) leaves zeros, and a row holding NaN or infinity is passed on as
/// it is; either is recorded in `failure` (the first one), which the training run checks.
final class NPYShards: @unchecked Sendable {
    struct Shard {
        let path: String
        let descriptor: Int32
        let rows: Int
        /// The first row's index in the whole set.
        let firstRow: Int
        let dataOffset: Int
        let dtype: NPY.Header.DType
    }

    let shards: [Shard]
    /// Rows in all shards.
    let count: Int
    let featureCount: Int
    /// The values' type on disk (every shard's: mixed dtypes are refused).
    var dtype: NPY.Header.DType { shards[0].dtype }
    private let lock = NSLock()
    private var firstFailure: SAEError?

    /// Opens `files` (regular .npy files, in this order; see `files(for:)`), checking every
    /// header: 2-D, float32 or float64, C order, at least one row, data exactly as long as the
    /// shape says, and the same number of columns in every file.
    init(files: [String]) throws {
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
                    header = try Self.header(of: fd, path: path)
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

    /// The .npy files `paths` name: one directory means its `*.npy` entries in sorted name order
    /// (other entries and hidden files are ignored); otherwise each path must be a file. Refused, with the path:
    /// a missing path, a directory without .npy files, a directory among several paths, and an
    /// entry `x.npy` that is itself a directory. Whether a file really is .npy, its header says.
    static func files(for paths: [String]) throws -> [String] {
        guard !paths.isEmpty else { throw SAEError("no .npy file given") }
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
            let files = names.filter { $0.hasSuffix(".npy") && !$0.hasPrefix(".") }.sorted().map { base + $0 }
            guard !files.isEmpty else { throw SAEError.badFile(directory, "holds no .npy files (a directory of shards needs *.npy files)") }
            for file in files where try isDirectory(file) {
                throw SAEError.badFile(file, "is a directory, not a .npy file")
            }
            return files
        }
        for path in paths where try isDirectory(path) {
            throw SAEError.badFile(path, "is a directory, but a .npy file is expected here: give one directory of shards on its own, or several .npy files")
        }
        return paths
    }

    /// The size in bytes of the file at `path` (following symbolic links), or nil.
    static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
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
        case .float64, .float16:
            // A few rows at a time through a stack buffer, converted to float32.
            let chunk = max(1, min(rows.count, 65_536 / (d * width)))
            withUnsafeTemporaryAllocation(byteCount: chunk * d * width, alignment: 8) { buffer in
                var r = rows.lowerBound
                while r < rows.upperBound && complete {
                    let n = min(chunk, rows.upperBound - r), bytes = n * d * width
                    complete = Self.readFully(shard.descriptor, buffer.baseAddress!, bytes, at: shard.dataOffset + r * d * width) == bytes
                    let dst = out + (r - rows.lowerBound) * d, src = UnsafeRawPointer(buffer.baseAddress!), dtype = shard.dtype
                    if dtype == .float16 {
                        sae_half_to_float(src.assumingMemoryBound(to: UInt16.self), dst, n * d)   // F16C where the CPU has it
                    } else {
                        for i in 0..<(n * d) { dst[i] = dtype.load(src + i * width) }
                    }
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
