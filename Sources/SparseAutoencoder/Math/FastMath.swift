/// Branch-free exp and log1p for the elementwise loops, so the compiler can vectorise them
/// (calls into libm's expf/log1pf cannot be; they were ~20% of an epoch).
///
/// Both use the classic Cephes range reductions and polynomials for single precision:
/// relative error of `exp` below 2e-7 over [-87, 88]; absolute error of `log1p` below 1e-7
/// on [0, 1], the only range the loss needs. Checked against libm in `FastMathTests`.
enum FastMath {
    /// e^x for x in about [-87.3, 88.3]; arguments outside are clamped (so e^-1000 gives
    /// about 1e-38 rather than 0, which no loss or gradient here can tell apart).
    @inline(__always)
    static func exp(_ x: Float) -> Float {
        let x = min(max(x, -87.3), 88.3)
        // x = n ln2 + r, |r| <= ln2 / 2; ln2 split in two so n ln2 is exact. n is rounded by
        // adding 1.5 * 2^23, which leaves it in the low mantissa bits: no call, no conversion
        // trap, so loops over this vectorise.
        let shifted = x * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        let er = p * r * r + r + 1
        // 2^n built from its bits: n is in [-126, 127], so the result is a normal float.
        let twoToN = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
        return er * twoToN
    }

    /// log(1 + e) for e in [0, 1] (e = exp(-|z|) in the cross-entropy).
    @inline(__always)
    static func log1pUnit(_ e: Float) -> Float {
        // Reduce 1 + e to m 2^k with m in [sqrt(1/2), sqrt(2)): k = 0 below e = sqrt(2) - 1, else 1.
        // Then log(1 + e) = k ln2 + log(1 + x), with x = e or (e - 1) / 2, both exact.
        let high = e > 0.414_213_56
        let x = high ? (e - 1) * 0.5 : e
        let k: Float = high ? 1 : 0
        let z = x * x
        var p: Float = 7.037_683_629_2e-2
        p = p * x - 1.151_461_031_0e-1
        p = p * x + 1.167_699_874_0e-1
        p = p * x - 1.242_014_084_6e-1
        p = p * x + 1.424_932_278_7e-1
        p = p * x - 1.666_805_766_5e-1
        p = p * x + 2.000_071_476_5e-1
        p = p * x - 2.499_999_399_3e-1
        p = p * x + 3.333_333_117_4e-1
        let y = p * x * z - 0.5 * z
        return x + y + k * 0.693_147_18
    }

    /// The sum of `count` floats, in eight lanes (a vectorised reduction; the order differs from
    /// a sequential sum by float rounding only).
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var total = lanes.sum()
        while i < count {
            total += p[i]
            i += 1
        }
        return total
    }

    /// 1 / (1 + e^-x).
    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + exp(-x)) }
}
