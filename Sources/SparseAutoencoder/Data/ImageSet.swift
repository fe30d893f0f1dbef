/// Labelled greyscale images kept as bytes (a quarter of the memory of floats); they are scaled
/// to [0, 1] only as each batch is gathered.
///
///     let (train, test) = try FashionMNIST.load()
///     print(train.count, train.featureCount)   // 60000 784
public struct ImageSet: Sendable {
    public let count: Int
    public let height: Int
    public let width: Int
    /// (count, height * width), row-major.
    public let pixels: [UInt8]
    /// One label per image (0..<256), used for analysis only.
    public let labels: [UInt8]

    public var featureCount: Int { height * width }

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

    public init(count: Int, height: Int, width: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == count * height * width && labels.count == count)
        self.count = count
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
    }

    /// The first `n` images (all of them if `n >= count`).
    public func prefix(_ n: Int) -> ImageSet {
        let n = min(n, count)
        return ImageSet(count: n, height: height, width: width,
                        pixels: Array(pixels[0..<(n * featureCount)]), labels: Array(labels[0..<n]))
    }

    /// Images `rows` as floats in [0, 1], (rows.count, featureCount) row-major.
    public func floats(_ rows: Range<Int>) -> [Float] {
        var out = [Float](repeating: 0, count: rows.count * featureCount)
        out.withUnsafeMutableBufferPointer { o in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<(rows.count * featureCount) { o[i] = ImageSet.scale[Int(p[rows.lowerBound * featureCount + i])] }
            }
        }
        return out
    }

    /// Writes the images at `indices`, scaled to [0, 1], into `out`: (indices.count, featureCount).
    @inline(__always)
    func gather(_ indices: UnsafeBufferPointer<Int>, into out: UnsafeMutablePointer<Float>) {
        let d = featureCount
        pixels.withUnsafeBufferPointer { p in
            ImageSet.scale.withUnsafeBufferPointer { table in
                for (r, index) in indices.enumerated() {
                    let src = p.baseAddress! + index * d
                    let dst = out + r * d
                    for j in 0..<d { dst[j] = table[Int(src[j])] }
                }
            }
        }
    }

    /// `Float(b) / 255` for every byte: exactly Keras's `x.astype("float32") / 255`.
    static let scale: [Float] = (0..<256).map { Float($0) / 255 }
}
