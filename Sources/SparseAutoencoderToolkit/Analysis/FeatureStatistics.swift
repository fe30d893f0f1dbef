import Foundation
import SparseAutoencoder

/// What each latent does over a set of vectors, gathered in one pass over their codes, batch by
/// batch, for the feature browser (`FeatureBrowser`): how often it fires, its mean and largest
/// activation, the histogram of its nonzero activations, the classes it fires on, its `top`
/// largest activations with their rows, and a uniform sample of `sampled` of its activations
/// (for examples across its range, not only the top). Memory is c × (top + sampled + bins +
/// classes) whatever the number of vectors.
///
///     var stats = FeatureStatistics(latents: 4096, top: 20, classes: 10)
///     model.forEachOutputBatch(of: data, through: model.codeLayerIndex) { codes, rows in
///         stats.add(codes, rows: rows, labels: ...)
///     }
///
/// The sample is a bottom-k sample on a hash of (row, latent), so which activations it keeps does
/// not depend on batch sizes, thread counts or the order of the pass; ties among the top keep the
/// earlier row. Latents are split over the worker pool, each part owning its latents' arrays.
package struct FeatureStatistics {
    package let latents: Int, top: Int, sampled: Int, classes: Int
    /// Vectors seen.
    package private(set) var vectors = 0
    /// Per latent: activations > 0, their sum, the largest.
    package private(set) var fires: [Int]
    package private(set) var sums: [Double]
    package private(set) var maxima: [Float]
    /// Per latent, `bins` counts of its nonzero activations by log10: bin i holds values in
    /// [10^(lowest + i / binsPerDecade), 10^(lowest + (i + 1) / binsPerDecade)) (the end bins also
    /// what lies beyond them).
    package private(set) var histograms: [Int32]
    package static let lowestDecade = -4.0, binsPerDecade = 8, bins = 64
    /// Per latent and class: how many of its activations were on vectors of that class.
    package private(set) var classCounts: [Int32]
    /// Per latent, its `top` largest activations (a heap until `sortedTop`) and their rows.
    private var topValues: [Float], topRows: [Int], topCounts: [Int]
    /// Per latent, the `sampled` activations with the smallest keys (a max-heap by key).
    private var sampleKeys: [UInt64], sampleValues: [Float], sampleRows: [Int], sampleCounts: [Int]

    package init(latents: Int, top: Int = 20, sampled: Int = 64, classes: Int = 0) {
        (self.latents, self.top, self.sampled, self.classes) = (latents, top, sampled, classes)
        fires = [Int](repeating: 0, count: latents)
        sums = [Double](repeating: 0, count: latents)
        maxima = [Float](repeating: 0, count: latents)
        histograms = [Int32](repeating: 0, count: latents * Self.bins)
        classCounts = [Int32](repeating: 0, count: latents * classes)
        (topValues, topRows, topCounts) = ([Float](repeating: 0, count: latents * top), [Int](repeating: 0, count: latents * top),
                                           [Int](repeating: 0, count: latents))
        (sampleKeys, sampleValues, sampleRows, sampleCounts) = ([UInt64](repeating: 0, count: latents * sampled),
                                                                [Float](repeating: 0, count: latents * sampled),
                                                                [Int](repeating: 0, count: latents * sampled), [Int](repeating: 0, count: latents))
    }

    /// The bin of a positive activation.
    static func bin(_ value: Float) -> Int {
        let position = (log10(Double(value)) - lowestDecade) * Double(binsPerDecade)
        return position.isFinite ? min(max(Int(position.rounded(.down)), 0), bins - 1) : 0
    }

    /// Adds a batch of codes: (rows, latents), the vectors `vectors ..< vectors + rows` of the pass,
    /// `labels` their classes (nil: unlabelled).
    package mutating func add(_ codes: UnsafePointer<Float>, rows: Int, labels: ArraySlice<Int>? = nil) {
        let (c, first, top, sampled, classes) = (latents, vectors, top, sampled, classes)
        fires.withUnsafeMutableBufferPointer { fires in
        sums.withUnsafeMutableBufferPointer { sums in
        maxima.withUnsafeMutableBufferPointer { maxima in
        histograms.withUnsafeMutableBufferPointer { histograms in
        classCounts.withUnsafeMutableBufferPointer { classCounts in
        topValues.withUnsafeMutableBufferPointer { topValues in
        topRows.withUnsafeMutableBufferPointer { topRows in
        topCounts.withUnsafeMutableBufferPointer { topCounts in
        sampleKeys.withUnsafeMutableBufferPointer { sampleKeys in
        sampleValues.withUnsafeMutableBufferPointer { sampleValues in
        sampleRows.withUnsafeMutableBufferPointer { sampleRows in
        sampleCounts.withUnsafeMutableBufferPointer { sampleCounts in
            WorkerPool.shared.split(c, alignment: 16, minimumPerPart: 64) { _, range in
                for r in 0..<rows {
                    let code = codes + r * c, row = first + r
                    let label = labels.map { $0[$0.startIndex + r] } ?? -1
                    for j in range {
                        let v = code[j]
                        guard v > 0 else { continue }
                        fires[j] += 1
                        sums[j] += Double(v)
                        if v > maxima[j] { maxima[j] = v }
                        histograms[j * Self.bins + Self.bin(v)] += 1
                        if label >= 0 && label < classes { classCounts[j * classes + label] += 1 }
                        Self.offerTop(v, row: row, values: topValues.baseAddress! + j * top, rows: topRows.baseAddress! + j * top,
                                      count: &topCounts[j], capacity: top)
                        Self.offerSample(Self.key(row: row, latent: j), v, row: row, keys: sampleKeys.baseAddress! + j * sampled,
                                         values: sampleValues.baseAddress! + j * sampled, rows: sampleRows.baseAddress! + j * sampled,
                                         count: &sampleCounts[j], capacity: sampled)
                    }
                }
            }
        } } } } } } } } } } } }
        vectors += rows
    }

    // MARK: - The heaps

    /// Whether (a, ra) ranks below (b, rb) among the top: a smaller value, or the same value on a later row.
    @inline(__always)
    private static func below(_ a: Float, _ ra: Int, _ b: Float, _ rb: Int) -> Bool { a < b || (a == b && ra > rb) }

    /// The min-heap of the largest activations (its root the one to drop next).
    private static func offerTop(_ v: Float, row: Int, values: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Int>,
                                 count: inout Int, capacity: Int) {
        guard capacity > 0 else { return }
        var i: Int
        if count < capacity {
            i = count
            count += 1
            values[i] = v
            rows[i] = row
            while i > 0 {
                let parent = (i - 1) / 2
                guard below(values[i], rows[i], values[parent], rows[parent]) else { break }
                values.swapAt(i, parent, rows: rows)
                i = parent
            }
            return
        }
        guard below(values[0], rows[0], v, row) else { return }
        (values[0], rows[0], i) = (v, row, 0)
        while true {
            let (l, r) = (2 * i + 1, 2 * i + 2)
            var m = i
            if l < count && below(values[l], rows[l], values[m], rows[m]) { m = l }
            if r < count && below(values[r], rows[r], values[m], rows[m]) { m = r }
            if m == i { return }
            values.swapAt(i, m, rows: rows)
            i = m
        }
    }

    /// A fixed pseudo-random key per (row, latent) (splitmix64): the sample keeps the smallest.
    @inline(__always)
    static func key(row: Int, latent: Int) -> UInt64 {
        var z = UInt64(truncatingIfNeeded: row) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: latent) &+ 0x632B_E59B_D9B4_E019
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The max-heap by key of the sample (its root the largest key, the one to drop next).
    private static func offerSample(_ key: UInt64, _ v: Float, row: Int, keys: UnsafeMutablePointer<UInt64>, values: UnsafeMutablePointer<Float>,
                                    rows: UnsafeMutablePointer<Int>, count: inout Int, capacity: Int) {
        guard capacity > 0 else { return }
        func swap(_ a: Int, _ b: Int) {
            (keys[a], keys[b]) = (keys[b], keys[a])
            (values[a], values[b]) = (values[b], values[a])
            (rows[a], rows[b]) = (rows[b], rows[a])
        }
        var i: Int
        if count < capacity {
            i = count
            count += 1
            (keys[i], values[i], rows[i]) = (key, v, row)
            while i > 0, keys[(i - 1) / 2] < keys[i] {
                swap(i, (i - 1) / 2)
                i = (i - 1) / 2
            }
            return
        }
        guard key < keys[0] else { return }
        (keys[0], values[0], rows[0], i) = (key, v, row, 0)
        while true {
            let (l, r) = (2 * i + 1, 2 * i + 2)
            var m = i
            if l < count && keys[l] > keys[m] { m = l }
            if r < count && keys[r] > keys[m] { m = r }
            if m == i { return }
            swap(i, m)
            i = m
        }
    }

    // MARK: - Reading the results

    /// Latent j's largest activations, largest first: (value, row).
    package func topActivations(_ j: Int) -> [(value: Float, row: Int)] {
        (0..<topCounts[j]).map { (topValues[j * top + $0], topRows[j * top + $0]) }
            .sorted { $0.value > $1.value || ($0.value == $1.value && $0.row < $1.row) }
    }

    /// Latent j's sampled activations (uniform over its activations), by value: (value, row).
    package func sampledActivations(_ j: Int) -> [(value: Float, row: Int)] {
        (0..<sampleCounts[j]).map { (sampleValues[j * sampled + $0], sampleRows[j * sampled + $0]) }
            .sorted { $0.value < $1.value || ($0.value == $1.value && $0.row < $1.row) }
    }

    /// The fraction of vectors on which latent j fired.
    package func frequency(_ j: Int) -> Double { vectors > 0 ? Double(fires[j]) / Double(vectors) : 0 }

    /// Latent j's mean activation when active (0 if it never fired).
    package func meanWhenActive(_ j: Int) -> Double { fires[j] > 0 ? sums[j] / Double(fires[j]) : 0 }

    /// Latent j's histogram (bins counts).
    package func histogram(_ j: Int) -> ArraySlice<Int32> { histograms[(j * Self.bins)..<((j + 1) * Self.bins)] }

    /// Latent j's activation count per class.
    package func classes(_ j: Int) -> ArraySlice<Int32> { classCounts[(j * classes)..<((j + 1) * classes)] }
}

private extension UnsafeMutablePointer where Pointee == Float {
    func swapAt(_ a: Int, _ b: Int, rows: UnsafeMutablePointer<Int>) {
        (self[a], self[b]) = (self[b], self[a])
        (rows[a], rows[b]) = (rows[b], rows[a])
    }
}
