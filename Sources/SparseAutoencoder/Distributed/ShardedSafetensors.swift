import CSignals
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One safetensors file that the ranks of a latent-sharded run write together, each its own
/// values straight into place, and read back the same way: the whole model (and Adam's moments)
/// in the layout one process writes, so `sae export`, `analyze` and `encode` read it as any run's,
/// while no rank ever holds more than its shard.
///
/// Written as `AtomicFile` writes: rank 0 makes a temporary file beside `path` holding the header
/// and the whole size, every rank writes its runs into it (`pwrite`) and flushes them, then rank 0
/// renames it over `path`, so a reader (or a crash) never sees a partial file. Every step ends with
/// the ranks agreeing that it worked. Every rank must see the run directory (one machine, or a file
/// system the nodes share, as the data's).
enum ShardedSafetensors {
    /// A tensor of the whole file, and this rank's runs of it: run values at `base + run.local`
    /// (`run.stride` apart), placed at element `run.offset` of the tensor.
    struct Tensor {
        let name: String
        let shape: [Int]
        let runs: [LatentShard.Run]
        let base: UnsafeMutablePointer<Float>
    }

    /// Collective: writes `tensors` (each rank its runs) and `metadata` to `path`.
    static func write(_ tensors: [Tensor], metadata: [String: String], to path: String, communicator comm: Communicator) throws {
        // Rank 0's header counts (the metadata may differ between ranks: each one's timings).
        let header = Safetensors.header(tensors.map { ($0.name, $0.shape) }, metadata: metadata)
        let size = tensors.reduce(header.count) { $0 + 4 * $1.shape.reduce(1, *) }
        // Rank 0 makes the file (removed if a signal ends it before the rename), and says where
        // and where its data start.
        var temp = ""
        try comm.agree {
            guard comm.isRoot else { return }
            temp = AtomicFile.temporaryPath(beside: path)
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw SAEError.badFile(path, "cannot write (\(String(cString: strerror(errno))))") }
            defer { close(fd) }
            let written = header.withUnsafeBytes { pwriteAll(fd, $0.baseAddress!, $0.count, at: 0) }
            guard written, ftruncate(fd, off_t(size)) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(temp)
                throw SAEError.badFile(path, "write failed (\(reason))")
            }
        }
        let place = try comm.broadcast("\(header.count) \(temp)")
        guard let space = place.firstIndex(of: " "), let dataStart = Int(place[..<space]) else { throw SAEError("rank 0 sent no file to write") }
        temp = String(place[place.index(after: space)...])
        var starts: [Int] = [], start = dataStart
        for tensor in tensors {
            starts.append(start)
            start += 4 * tensor.shape.reduce(1, *)
        }
        let slot = comm.isRoot ? sae_signals_register(temp) : -1
        defer { if slot >= 0 { sae_signals_unregister(slot) } }
        do {
            try comm.agree {
                let fd = open(temp, O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw SAEError.badFile(temp, "cannot be opened by rank \(comm.rank) (\(String(cString: strerror(errno)))): every rank of a latent-sharded run must see the run directory")
                }
                defer { close(fd) }
                var row: [Float] = []
                for (tensor, start) in zip(tensors, starts) {
                    for run in tensor.runs {
                        let source = UnsafePointer(tensor.base + run.local), at = start + 4 * run.offset
                        let written: Bool
                        if run.stride == 1 {
                            written = pwriteAll(fd, source, 4 * run.count, at: at)
                        } else {
                            // A strided run (the encoder's column of this rank's latents) through a row.
                            if row.count < run.count { row = [Float](repeating: 0, count: run.count) }
                            for i in 0..<run.count { row[i] = source[i * run.stride] }
                            written = row.withUnsafeBytes { pwriteAll(fd, $0.baseAddress!, 4 * run.count, at: at) }
                        }
                        guard written else {
                            throw SAEError.badFile(path, "write failed on rank \(comm.rank) (\(String(cString: strerror(errno))))")
                        }
                    }
                }
                guard fsync(fd) == 0 else { throw SAEError.badFile(path, "write failed on rank \(comm.rank) (\(String(cString: strerror(errno))))") }
            }
            try comm.agree {
                guard comm.isRoot else { return }
                guard rename(temp, path) == 0 else { throw SAEError.badFile(path, "write failed (\(String(cString: strerror(errno))))") }
                let directory = (path as NSString).deletingLastPathComponent
                let fd = open(directory.isEmpty ? "." : directory, O_RDONLY)
                if fd >= 0 { fsync(fd); close(fd) }
            }
        } catch {
            if comm.isRoot { unlink(temp) }
            throw error
        }
    }

    /// Reads this rank's runs of `tensors` from `path` into place, each value checked finite,
    /// after checking that the file holds each with its shape and nothing else but `others`
    /// (read by `body`, with the file's tensors and metadata, before the runs).
    static func read(_ tensors: [Tensor], from path: String, allowing others: Set<String>,
                     _ body: ([String: Safetensors.View], [String: String]) throws -> Void) throws {
        try Safetensors.withFile(path) { views, metadata in
            try body(views, metadata)
            for tensor in tensors {
                guard let view = views[tensor.name] else { throw SAEError.badFile(path, "missing tensor \"\(tensor.name)\" needed by the model in config.json") }
                guard view.shape == tensor.shape else {
                    throw SAEError.badFile(path, "tensor \"\(tensor.name)\" has shape \(view.shape) but config.json needs \(tensor.shape)")
                }
            }
            let expected = Set(tensors.map(\.name)).union(others)
            if let extra = views.keys.sorted().first(where: { !expected.contains($0) }) {
                throw SAEError.badFile(path, "unexpected tensor \"\(extra)\": the weights do not match config.json")
            }
            var row: [Float] = []
            for tensor in tensors {
                let view = views[tensor.name]!
                for run in tensor.runs {
                    if row.count < run.count { row = [Float](repeating: 0, count: run.count) }
                    try row.withUnsafeMutableBufferPointer { try view.read(run.offset..<(run.offset + run.count), into: $0.baseAddress!) }
                    if let bad = (0..<run.count).first(where: { !row[$0].isFinite }) {
                        throw SAEError.badFile(path, "tensor \"\(tensor.name)\" holds \(row[bad]) at index \(run.offset + bad): the file is damaged")
                    }
                    for i in 0..<run.count { tensor.base[run.local + i * run.stride] = row[i] }
                }
            }
        }
    }

    private static func pwriteAll(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, at offset: Int) -> Bool {
        var done = 0
        while done < count {
            let n = pwrite(fd, buffer + done, count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
