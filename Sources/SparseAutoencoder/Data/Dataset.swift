/// The samples a model trains on: greyscale images kept as bytes (a quarter of the memory of
/// floats, scaled to [0, 1] only as each batch is gathered), or arbitrary float vectors (e.g.
/// a model's activations read from a .npy file). Labels are optional and used for analysis only.
///
///     let (train, test) = try FashionMNIST.load()
///     print(train.count, train.featureCount)   // 60000 784
///     let vectors = try Dataset(npy: "activations.npy")
public struct Dataset: Sendable {
    enum Storage: Sendable {
        /// (count, featureCount) bytes, scaled by 1/255 when read.
        case bytes([UInt8])
        /// (count, featureCount) floats, used as they are.
        case floats([Float])
    }

    public let count: Int
    /// Image height and width; vectors are one row of `featureCount`.
    public let height: Int
    public let width: Int
    let storage: Storage
    /// One label per sample (0..<256), or empty for unlabelled data.
    public let labels: [UInt8]

    public var featureCount: Int { height * width }
    public var isLabelled: Bool { !labels.isEmpty }
    /// Whether the samples are images (pixel bytes) rather than free vectors.
    public var isImage: Bool { if case .bytes = storage { true } else { false } }

    /// Pairs an image file with its label file, checking that they agree.
    public init(images: IDXArray, labels: IDXArray, imagesName: String, labelsName: String) throws {
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
    public init(vectors: [Float], count: Int, features: Int) {
        precondition(vectors.count == count * features)
        self.init(count: count, height: 1, width: features, storage: .floats(vectors), labels: [])
    }

    /// The 2-D float32 or float64 array in a .npy file, one sample per row.
    public init(npy path: String) throws {
        let matrix = try NPY.read(path: path)
        self.init(vectors: matrix.values, count: matrix.rows, features: matrix.cols)
    }

    private init(count: Int, height: Int, width: Int, storage: Storage, labels: [UInt8]) {
        self.count = count
        self.height = height
        self.width = width
        self.storage = storage
        self.labels = labels
    }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        let d = featureCount
        let storage: Storage
        switch self.storage {
        case .bytes(let p): storage = .bytes(indices.flatMap { p[($0 * d)..<($0 * d + d)] })
        case .floats(let v): storage = .floats(indices.flatMap { v[($0 * d)..<($0 * d + d)] })
        }
        return Dataset(count: indices.count, height: height, width: width, storage: storage,
                       labels: isLabelled ? indices.map { labels[$0] } : [])
    }

    /// The first `n` samples (all of them if `n >= count`): one contiguous copy.
    public func prefix(_ n: Int) -> Dataset {
        let n = min(n, count), end = n * featureCount
        let storage: Storage
        switch self.storage {
        case .bytes(let p): storage = .bytes(Array(p[0..<end]))
        case .floats(let v): storage = .floats(Array(v[0..<end]))
        }
        return Dataset(count: n, height: height, width: width, storage: storage, labels: isLabelled ? Array(labels[0..<n]) : [])
    }

    /// A seeded random split: `fraction` of the samples (at least one) held out, the rest kept,
    /// each in their original order. For vector files that come without a validation file.
    public func split(holdingOut fraction: Double, seed: UInt64) -> (kept: Dataset, heldOut: Dataset) {
        var order = Array(0..<count)
        var rng = SeededGenerator(seed: seed)
        rng.shuffle(&order)
        let held = min(max(1, Int((Double(count) * fraction).rounded())), count - 1)
        return (subset(order[held...].sorted()), subset(order[..<held].sorted()))
    }

    /// Samples `rows` as floats (images scaled to [0, 1]), (rows.count, featureCount) row-major.
    public func floats(_ rows: Range<Int>) -> [Float] {
        let d = featureCount
        switch storage {
        case .floats(let v): return Array(v[(rows.lowerBound * d)..<(rows.upperBound * d)])
        case .bytes(let p): return p[(rows.lowerBound * d)..<(rows.upperBound * d)].map { Dataset.scale[Int($0)] }
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
        switch storage {
        case .floats(let v):
            v.withUnsafeBufferPointer { v in
                for (r, index) in indices.enumerated() { (out + r * d).update(from: v.baseAddress! + index * d, count: d) }
            }
        case .bytes(let p):
            p.withUnsafeBufferPointer { p in
                Dataset.scale.withUnsafeBufferPointer { table in
                    for (r, index) in indices.enumerated() {
                        let src = p.baseAddress! + index * d
                        let dst = out + r * d
                        for j in 0..<d { dst[j] = table[Int(src[j])] }
                    }
                }
            }
        }
    }

    /// `Float(b) / 255` for every byte: exactly Keras's `x.astype("float32") / 255`.
    static let scale: [Float] = (0..<256).map { Float($0) / 255 }
}
