import CKernels
import Foundation

/// The samples a model trains on: greyscale images kept as bytes (a quarter of the memory of
/// floats, scaled to [0, 1] only as each batch is gathered), or arbitrary float vectors (e.g.
/// a model's activations read from a .npy file). Labels are optional and used for analysis only.
/// Vectors too large for memory stay on disk and are read batch by batch (`isStreamed`).
///
///     let (train, test) = try FashionMNIST.load()
///     print(train.count, train.featureCount)   // 60000 784
///     let vectors = try Dataset(npy: "activations.npy")
///     let shards = try Dataset(npy: ["activations/"])   // every activations/*.npy, streamed
public struct Dataset: Sendable {
    enum Storage: Sendable {
        /// (count, featureCount) bytes, scaled by 1/255 when read.
        case bytes([UInt8])
        /// (count, featureCount) floats, used as they are.
        case floats([Float])
        /// Rows 0..<count of .npy files on disk, read as needed.
        case shards(VectorShards)
    }

    public let count: Int
    /// Image height and width; vectors are one row of `featureCount`.
    public let height: Int
    public let width: Int
    let storage: Storage
    /// One label per sample (0..<256), or empty for unlabelled data.
    public let labels: [UInt8]
    /// A transcoder's targets: row i is what sample i's output should be (`pairing(targets:)`);
    /// nil for an autoencoder's data, whose samples are their own targets.
    public var targets: Dataset? { targetBox?.value }
    private var targetBox: Box?
    private final class Box: Sendable {
        let value: Dataset
        init(_ value: Dataset) { self.value = value }
    }

    public var featureCount: Int { height * width }
    public var isLabelled: Bool { !labels.isEmpty }
    /// Whether the samples are images (pixel bytes) rather than free vectors.
    public var isImage: Bool { if case .bytes = storage { true } else { false } }
    /// Whether the samples stay in files and are read batch by batch (see `init(npy:loading:tensor:)`).
    /// Training then visits them in a computed permutation (`ShuffledOrder`) instead of a
    /// shuffled array of every index.
    package var isStreamed: Bool { if case .shards = storage { true } else { false } }
    /// Whether training shuffles with a computed permutation (`ShuffledOrder`) rather than an
    /// array of every index: streamed data, except files that only MPI ranks stream
    /// (`NPYLoading.streamedForRanks`), which keep the order a single process gives them.
    package var usesComputedShuffle: Bool { isStreamed && !keepsInMemoryOrder }
    private var keepsInMemoryOrder = false
    /// Every value read is multiplied by this (activation normalisation, `normalized(by:)`); 1
    /// for data as stored.
    package private(set) var valueScale: Float = 1
    /// For streamed data (or targets): the first read that failed or row that held NaN or infinity
    /// (reading happens inside training steps, which cannot throw). Nil for data in memory, which
    /// are checked as they are loaded.
    package var readFailure: SAEError? {
        if case .shards(let s) = storage, let failure = s.failure { return failure }
        return targets?.readFailure
    }

    /// Pairs an image file with its label file, checking that they agree.
    package init(images: IDXArray, labels: IDXArray, imagesName: String, labelsName: String) throws {
        guard images.shape.count == 3 else {
            throw SAEError.badFile(imagesName, "expected an image array (count, height, width), found shape \(images.shape)")
        }
        guard labels.shape.count == 1 else {
            throw SAEError.badFile(labelsName, "expected a label vector (count), found shape \(labels.shape)")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw SAEError.badFile(imagesName, "holds \(images.shape[0]) images but \(labelsName) holds \(labels.shape[0]) labels")
        }
        guard images.shape[0] > 0, images.shape[1] > 0, images.shape[2] > 0 else {
            throw SAEError.badFile(imagesName, "holds no images (shape \(images.shape))")
        }
        self.init(count: images.shape[0], height: images.shape[1], width: images.shape[2],
                  pixels: images.bytes, labels: labels.bytes)
    }

    /// Labelled images: (count, height, width) bytes.
    public init(count: Int, height: Int, width: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == count * height * width && labels.count == count)
        self.init(count: count, height: height, width: width, storage: .bytes(pixels), labels: labels)
    }

    /// Unlabelled vectors: (count, features) floats, row-major.
    /// Labelled vectors: (count, features) floats, row-major, and one label per vector.
    public init(vectors: [Float], count: Int, features: Int, labels: [UInt8]) {
        precondition(vectors.count == count * features && labels.count == count)
        self.init(count: count, height: 1, width: features, storage: .floats(vectors), labels: labels)
    }

    public init(vectors: [Float], count: Int, features: Int) {
        precondition(vectors.count == count * features)
        self.init(count: count, height: 1, width: features, storage: .floats(vectors), labels: [])
    }

    /// The vectors in a .npy or .safetensors file (or the shards in a directory), one sample per
    /// row; see `init(npy:loading:tensor:)`.
    public init(npy path: String) throws {
        try self.init(npy: [path])
    }

    /// Whether .npy data are read into memory or streamed from disk.
    public enum NPYLoading: Sendable {
        /// Streamed if given as a directory or as several files, or if the one file is larger
        /// than `streamingThreshold`; otherwise read into memory.
        case automatic
        case inMemory
        case streamed
        /// Streamed, so that each MPI rank reads only the rows of its slices of each batch, but
        /// shuffled as `automatic` would shuffle it (with an array of indices where `automatic`
        /// reads the file into memory), so that ranks train on exactly a single process's batches.
        case streamedForRanks
    }

    /// A single .npy file larger than this many bytes is streamed: 1 GiB, or a quarter of the
    /// physical memory if that is less. Below it, reading the file into memory is what it always
    /// was (training shuffles an array of every index, so results are unchanged, and a held-out
    /// validation split can copy rows); above it, a copy of the data (two with the held-out
    /// split) would take a large part of a typical machine's memory, so the file stays on disk.
    /// The fixed 1 GiB (rather than a share of memory alone) keeps the choice, and with it the
    /// run's shuffle, the same on most machines.
    package static var streamingThreshold: Int {
        min(1 << 30, Int(clamping: ProcessInfo.processInfo.physicalMemory / 4))
    }

    /// Whether one .npy file of `fileSize` bytes of `dtype` values is streamed rather than read:
    /// its size in memory, as float32 (a float16 file's doubled), above `threshold`.
    package static func streams(fileSize: Int, dtype: StoredFloat?, threshold: Int) -> Bool {
        let (doubled, overflow) = fileSize.multipliedReportingOverflow(by: 2)
        return (dtype == .float16 || dtype == .bfloat16 ? (overflow ? .max : doubled) : fileSize) > threshold
    }

    /// The rows of one or more .npy or .safetensors files (arrays of vectors, float16, bfloat16,
    /// float32 or float64, C order, one width and one dtype; converted to float32 as rows are
    /// read), concatenated in order. `paths` is one file, one directory (its `*.npy` or
    /// `*.safetensors` files in sorted name order), or several files; `tensor` names the tensor of
    /// each .safetensors file (needed when a file holds several). Streamed data keep only each
    /// file's descriptor and header; see `VectorShards`.
    public init(npy paths: [String], loading: NPYLoading = .automatic, tensor: String? = nil) throws {
        let files = try VectorShards.files(for: paths)
        let single = files.count == 1 && files == paths
        var opened: VectorShards?
        let automatic: Bool
        if single && VectorShards.isSafetensors(files[0]) {
            // Judged by its tensor, not by the file, which may hold other tensors too.
            let shards = try VectorShards(files: files, tensor: tensor)
            automatic = Self.streams(fileSize: shards.dataBytes, dtype: shards.dtype, threshold: Dataset.streamingThreshold)
            opened = shards
        } else if single {
            if let tensor { throw SAEError.badFile(files[0], "is not .safetensors, but a tensor name (\"\(tensor)\") was given: .npy files hold one array each") }
            let size = VectorShards.fileSize(files[0]) ?? 0
            // (Only a file that float16 could push over the threshold has its header read here.)
            let dtype = size > Dataset.streamingThreshold / 2 ? (try? VectorShards(files: files))?.dtype : nil
            automatic = Self.streams(fileSize: size, dtype: dtype, threshold: Dataset.streamingThreshold)
        } else {
            automatic = true
        }
        let stream: Bool
        switch loading {
        case .inMemory: stream = false
        case .streamed, .streamedForRanks: stream = true
        case .automatic: stream = automatic
        }
        if !stream && single && opened == nil {
            let matrix = try NPY.read(path: files[0])
            self.init(vectors: matrix.values, count: matrix.rows, features: matrix.cols)
            return
        }
        let shards = try opened ?? VectorShards(files: files, tensor: tensor)
        guard stream else {
            // Into memory: read through the shards, checked as one .npy file would be.
            var values = [Float](repeating: 0, count: shards.count * shards.featureCount)
            values.withUnsafeMutableBufferPointer { shards.read(0..<shards.count, into: $0.baseAddress!) }
            if let failure = shards.failure { throw failure }
            self.init(vectors: values, count: shards.count, features: shards.featureCount)
            return
        }
        self.init(count: shards.count, height: 1, width: shards.featureCount, storage: .shards(shards), labels: [])
        keepsInMemoryOrder = loading == .streamedForRanks && !automatic
    }

    private init(count: Int, height: Int, width: Int, storage: Storage, labels: [UInt8]) {
        self.count = count
        self.height = height
        self.width = width
        self.storage = storage
        self.labels = labels
    }

    /// These samples with `targets` as what a transcoder should output for them: row for row, so
    /// every subset, prefix, split and batch of the result keeps them paired.
    public func pairing(targets: Dataset) throws -> Dataset {
        guard targets.count == count else {
            throw SAEError("the targets hold \(targets.count) rows but the inputs hold \(count): a transcoder needs one target row per input row")
        }
        guard targets.targets == nil else { throw SAEError("targets cannot have targets of their own") }
        var paired = self
        paired.targetBox = Box(targets)
        return paired
    }

    /// The same samples read times `inputScale` (and a transcoder's targets times `targetScale`):
    /// SAELens's activation normalisation, applied as rows are read, so nothing is copied.
    package func normalized(inputScale: Float, targetScale: Float? = nil) -> Dataset {
        var scaled = self
        scaled.valueScale = valueScale * inputScale
        if let targets, let targetScale { scaled.targetBox = Box(targets.normalized(inputScale: targetScale)) }
        return scaled
    }

    /// The factor that brings the mean norm of the samples to sqrt(featureCount) (SAELens's
    /// "expected_average_only_in"), measured on up to 65,536 rows spread evenly over the set;
    /// nil when those rows are all zero.
    package func normalizingScale() -> Float? {
        let sampled = min(count, 65_536)
        var total = 0.0
        for i in 0..<sampled {
            let row = i * count / sampled
            total += Double(floats(row..<(row + 1)).reduce(Float(0)) { $0 + $1 * $1 }).squareRoot()
        }
        let mean = total / Double(sampled)
        guard mean > 0, mean.isFinite else { return nil }
        return Float(Double(featureCount).squareRoot() / mean)
    }

    /// The width of what the model should output for each sample: the targets' or the samples'.
    public var targetFeatureCount: Int { targets?.featureCount ?? featureCount }

    /// The samples at `indices`, in that order (in memory, also for streamed data).
    public func subset(_ indices: [Int]) -> Dataset {
        let d = featureCount
        let storage: Storage
        switch self.storage {
        case .bytes(let p): storage = .bytes(indices.flatMap { p[($0 * d)..<($0 * d + d)] })
        case .floats(let v): storage = .floats(indices.flatMap { v[($0 * d)..<($0 * d + d)] })
        case .shards(let s):
            precondition(indices.allSatisfy { $0 >= 0 && $0 < count }, "index outside 0..<\(count)")
            var values = [Float](repeating: 0, count: indices.count * d)
            values.withUnsafeMutableBufferPointer { out in indices.withUnsafeBufferPointer { s.read($0, into: out.baseAddress!) } }
            storage = .floats(values)
        }
        var result = Dataset(count: indices.count, height: height, width: width, storage: storage,
                             labels: isLabelled ? indices.map { labels[$0] } : [])
        result.valueScale = valueScale
        result.targetBox = targets.map { Box($0.subset(indices)) }
        return result
    }

    /// The first `n` samples (all of them if `n >= count`): one contiguous copy, or for streamed
    /// data the same files with fewer rows.
    public func prefix(_ n: Int) -> Dataset {
        let n = min(n, count), end = n * featureCount
        let storage: Storage
        switch self.storage {
        case .bytes(let p): storage = .bytes(Array(p[0..<end]))
        case .floats(let v): storage = .floats(Array(v[0..<end]))
        case .shards: storage = self.storage
        }
        var prefix = Dataset(count: n, height: height, width: width, storage: storage, labels: isLabelled ? Array(labels[0..<n]) : [])
        prefix.keepsInMemoryOrder = keepsInMemoryOrder
        prefix.valueScale = valueScale
        prefix.targetBox = targets.map { Box($0.prefix(n)) }
        return prefix
    }

    /// A seeded random split: `fraction` of the samples (at least one) held out, the rest kept,
    /// each in their original order. For vector files that come without a validation file.
    /// Both parts are copies in memory, also of streamed data (`RunData` asks streamed training
    /// data for a validation file instead).
    public func split(holdingOut fraction: Double, seed: UInt64) -> (kept: Dataset, heldOut: Dataset) {
        var order = Array(0..<count)
        var rng = SeededGenerator(seed: seed)
        rng.shuffle(&order)
        let held = min(max(1, Int((Double(count) * fraction).rounded())), count - 1)
        return (subset(order[held...].sorted()), subset(order[..<held].sorted()))
    }

    /// Samples `rows` as floats (images scaled to [0, 1]), (rows.count, featureCount) row-major.
    public func floats(_ rows: Range<Int>) -> [Float] {
        let stored = storedFloats(rows)
        return valueScale == 1 ? stored : stored.map { $0 * valueScale }
    }

    private func storedFloats(_ rows: Range<Int>) -> [Float] {
        let d = featureCount
        precondition(rows.lowerBound >= 0 && rows.upperBound <= count, "rows \(rows) outside 0..<\(count)")
        switch storage {
        case .floats(let v): return Array(v[(rows.lowerBound * d)..<(rows.upperBound * d)])
        case .bytes(let p):
            return [Float](unsafeUninitializedCapacity: rows.count * d) { buffer, initialized in
                p.withUnsafeBufferPointer { p in
                    if let base = buffer.baseAddress { sae_bytes_to_unit(p.baseAddress! + rows.lowerBound * d, base, rows.count * d) }
                }
                initialized = rows.count * d
            }
        case .shards(let s):
            return [Float](unsafeUninitializedCapacity: rows.count * d) { buffer, initialized in
                if let base = buffer.baseAddress { s.read(rows, into: base) }
                initialized = rows.count * d
            }
        }
    }

    /// Writes the samples at `indices` (images scaled to [0, 1]) into `out`: (indices.count,
    /// featureCount), rows split over the pool.
    @inline(__always)
    func gather(_ indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Float>) {
        WorkerPool.shared.split(indices.count, alignment: 1, minimumPerPart: 16) { _, r in
            gatherRows(UnsafeBufferPointer(rebasing: indices[r]), into: out + r.lowerBound * featureCount)
        }
    }

    @inline(__always)
    private func gatherRows(_ indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Float>) {
        let d = featureCount
        defer {
            if valueScale != 1 { for i in 0..<(indices.count * d) { out[i] *= valueScale } }
        }
        switch storage {
        case .shards(let s):
            s.read(indices, into: out)
        case .floats(let v):
            v.withUnsafeBufferPointer { v in
                for (r, index) in indices.enumerated() { (out + r * d).update(from: v.baseAddress! + index * d, count: d) }
            }
        case .bytes(let p):
            p.withUnsafeBufferPointer { p in
                for (r, index) in indices.enumerated() { sae_bytes_to_unit(p.baseAddress! + index * d, out + r * d, d) }
            }
        }
    }
}
