/// A seeded random permutation of 0..<count computed one index at a time, in O(1) memory: for
/// data too large to shuffle an array of all their row numbers (see `Dataset.isStreamed`).
///
/// A balanced Feistel network on the smallest even number of bits (at least 2) that holds
/// count - 1, with six rounds whose round function is a 64-bit mixer (SplitMix64's finaliser)
/// of the right half xor a round key, is a bijection of that power-of-two domain (fewer than
/// 4 count values). Cycle walking (applying it again while the result is >= count) restricts it
/// to 0..<count and keeps it a bijection: the walk from an index stays on that index's cycle,
/// which returns to 0..<count. On average fewer than four applications per index.
///
///     var generator = SeededGenerator(seed: 1)
///     let order = ShuffledOrder(count: 10, generator: &generator)
///     print((0..<10).map { order[$0] })   // the ten numbers 0...9, in a seeded order
package struct ShuffledOrder: Sendable, Equatable {
    package let count: Int
    private let halfBits: UInt64
    private let keys: [UInt64]

    static let rounds = 6

    /// The permutation keyed by the next `rounds` numbers of `generator` (which advances by that
    /// many), so that a generator state determines it, as it determines a Fisher-Yates shuffle.
    package init(count: Int, generator: inout SeededGenerator) {
        precondition(count > 0, "a permutation of no elements")
        self.count = count
        let bits = max(2, UInt64.bitWidth - UInt64(count - 1).leadingZeroBitCount)
        halfBits = UInt64((bits + 1) / 2)
        keys = (0..<Self.rounds).map { _ in generator.next() }
    }

    package init(count: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        self.init(count: count, generator: &generator)
    }

    /// The element at `position` (0..<count).
    @inline(__always)
    package subscript(position: Int) -> Int {
        precondition(position >= 0 && position < count, "position \(position) outside 0..<\(count)")
        var x = UInt64(position)
        repeat { x = feistel(x) } while x >= UInt64(count)
        return Int(x)
    }

    /// The bijection of 0..<2^(2 halfBits).
    @inline(__always)
    private func feistel(_ x: UInt64) -> UInt64 {
        let mask = (UInt64(1) << halfBits) &- 1
        var left = x >> halfBits, right = x & mask
        for key in keys {
            (left, right) = (right, left ^ (Self.mix(right ^ key) & mask))
        }
        return left << halfBits | right
    }

    @inline(__always)
    private static func mix(_ v: UInt64) -> UInt64 {
        var z = v &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The order in which `Trainer.fit` visits one epoch's samples, drawn from the epoch's
/// generator. In-memory data keep the original Fisher-Yates shuffle of an array of every index
/// (so their runs stay byte-identical); streamed data get a `ShuffledOrder`, whose indices are
/// written batch by batch into a batch-sized buffer, so memory does not grow with the data.
final class EpochOrder {
    let count: Int
    /// Every index (in memory), or the current batch's (streamed).
    private var buffer: [Int]
    private var permutation: ShuffledOrder?
    private let streamed: Bool

    init(count: Int, batchSize: Int, streamed: Bool) {
        self.count = count
        self.streamed = streamed
        buffer = [Int](repeating: 0, count: streamed ? min(batchSize, count) : count)
    }

    /// A fresh order for the next epoch.
    func shuffle(with generator: inout SeededGenerator) {
        if streamed {
            permutation = ShuffledOrder(count: count, generator: &generator)
        } else {
            for i in buffer.indices { buffer[i] = i }
            generator.shuffle(&buffer)
        }
    }

    /// Calls `body` with the sample indices at `positions` of this epoch's order (at most one
    /// batch of them).
    @inline(__always)
    func withIndices<R>(_ positions: Range<Int>, _ body: (UnsafeBufferPointer<Int>) throws -> R) rethrows -> R {
        guard let permutation else {
            return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[positions])) }
        }
        precondition(positions.count <= buffer.count)
        buffer.withUnsafeMutableBufferPointer { out in
            for (k, p) in positions.enumerated() { out[k] = permutation[p] }
        }
        return try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[0..<positions.count])) }
    }
}
