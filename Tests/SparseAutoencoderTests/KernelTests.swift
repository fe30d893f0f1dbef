import Foundation
import XCTest
import CKernels
@testable import SparseAutoencoder
@testable import SparseAutoencoderToolkit

/// The C kernels' exp and log1p against libm, and the sums over many elements.
final class KernelTests: XCTestCase {
    func testExpIsWithinTwoTenMillionthsOfLibm() {
        var worst = 0.0
        for i in 0...200_000 {
            let x = -87 + Float(i) * (175 / 200_000)
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(sae_exp(x)) - exact) / exact)
        }
        XCTAssertLessThan(worst, 2e-7)
        XCTAssertEqual(sae_exp(0), 1)
        XCTAssertTrue(sae_exp(-1000) >= 0 && sae_exp(-1000) < 1e-37)
        XCTAssertTrue(sae_exp(1000).isFinite)
    }

    func testLog1pIsWithinOneTenMillionthOnTheUnitInterval() {
        var worst = 0.0
        for i in 0...100_000 {
            let e = Float(i) / 100_000
            worst = max(worst, abs(Double(sae_log1p_unit(e)) - Foundation.log1p(Double(e))))
        }
        XCTAssertLessThan(worst, 1e-7)
        XCTAssertEqual(sae_log1p_unit(0), 0)
        XCTAssertEqual(sae_log1p_unit(1e-30), 1e-30, accuracy: 1e-36)
    }

    func testSigmoidAtBothEnds() {
        XCTAssertEqual(Activation.sigmoid(0), 0.5)
        XCTAssertEqual(Activation.sigmoid(100), 1)
        XCTAssertLessThan(Activation.sigmoid(-100), 1e-37)
        XCTAssertEqual(Activation.sigmoid(2), Float(1 / (1 + Foundation.exp(-2.0))), accuracy: 1e-7)
    }

    /// A long loss sum (blocks, lanes and a tail) against a double-precision reference.
    func testLongSumsStayAccurate() {
        let n = 200_003
        let z = randomFloats(n, seed: 1, in: -6...6), x = randomFloats(n, seed: 2, in: 0...1)
        var reference = 0.0
        for i in 0..<n {
            let zi = Double(z[i])
            reference += max(zi, 0) - zi * Double(x[i]) + Foundation.log1p(Foundation.exp(-abs(zi)))
        }
        XCTAssertEqual(sae_bce(z, x, nil, n, 1), reference, accuracy: reference * 1e-6)
    }

    /// Each loss kernel has a loop with the gradient and one without: the same sum from both,
    /// over lengths that end inside a block, a lane group and a vector.
    func testLossSumsAreTheSameWithAndWithoutTheGradient() {
        for n in [1, 7, 16, 1_023, 1_025, 5_003] {
            let z = randomFloats(n, seed: 5, in: -9...9), x = randomFloats(n, seed: 6, in: 0...1)
            for (name, loss) in [("bce", sae_bce), ("sigmoid mse", sae_mse), ("squared error", sae_squared_error)] {
                var grad = [Float](repeating: .nan, count: n)
                XCTAssertEqual(loss(z, x, &grad, n, 0.25), loss(z, x, nil, n, 0.25), "\(name), n \(n)")
                XCTAssertFalse(grad.contains { $0.isNaN }, "\(name), n \(n): every gradient element written")
            }
        }
    }

    /// Image bytes become exactly Keras's `x.astype("float32") / 255`, in both variants, over
    /// lengths that end inside a vector.
    func testBytesScaleExactlyAsKerasDoes() {
        let original = sae_kernels_are_baseline()
        defer { sae_kernels_force_baseline(original) }
        let bytes = (0..<(256 + 37)).map { UInt8($0 % 256) }
        for baseline: Int32 in BLASKernel.cpuFlags().isSuperset(of: ["avx2", "fma"]) ? [1, 0] : [1] {
            sae_kernels_force_baseline(baseline)
            for n in [1, 31, 256, bytes.count] {
                var out = [Float](repeating: .nan, count: n)
                sae_bytes_to_unit(bytes, &out, n)
                XCTAssertEqual(out, bytes.prefix(n).map { Float($0) / 255 }, "baseline \(baseline), n \(n)")
            }
        }
    }

    /// TopK against a sort: each row keeps its k largest values, ties going to the earliest
    /// units; rows with many equal values (quantised to a few levels) exercise the ties.
    func testTopKRowsKeepTheKLargestWithEarliestTies() {
        var rng = SeededGenerator(seed: 4)
        for (cols, k) in [(10, 3), (64, 8), (300, 32), (7, 7)] {
            let rows = 20
            let input = (0..<(rows * cols)).map { _ in Float(Int(rng.nextUnitFloat() * 6)) - 2 }
            var y = input
            sae_topk_rows(&y, rows, cols, k)
            for r in 0..<rows {
                let row = Array(input[(r * cols)..<((r + 1) * cols)])
                let kept = Set(row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k))
                for j in 0..<cols { XCTAssertEqual(y[r * cols + j], kept.contains(j) ? row[j] : 0, "cols \(cols) k \(k) row \(r) unit \(j)") }
            }
        }
    }

    /// AuxK's selection: among the allowed columns only, the k largest, relu'd, written compactly.
    func testTopKAmongAllowedColumnsIsCompactAndRelud() {
        let pre: [Float] = [5, -1, 3, 2, 0.5, 4,
                            -3, -2, 1, -1, 9, -4]
        let allowed: [UInt8] = [0, 1, 1, 1, 1, 0]
        var out = [Float](repeating: 7, count: 2 * 4)
        sae_topk_among(pre, allowed, &out, 2, 6, 2)
        XCTAssertEqual(out, [0, 3, 2, 0,     // row 0: allowed -1, 3, 2, 0.5 -> 3 and 2
                             0, 1, 0, 9])    // row 1: allowed -2, 1, -1, 9 -> 9 and 1
    }

    /// Each kernel's baseline x86-64 variant against its AVX2 + FMA one on the same inputs: the
    /// same selections, and the same numbers up to FMA's rounding (a few units in the last place
    /// of each term; sums of n terms within n of those). The whole suite also runs on the
    /// baseline variants with SAE_KERNELS=baseline (scripts/test-kinds.sh).
    func testBaselineAndAVX2VariantsAgree() throws {
        #if arch(x86_64)
        try XCTSkipUnless(BLASKernel.cpuFlags().isSuperset(of: ["avx2", "fma"]), "this CPU runs only the baseline variant")
        let original = sae_kernels_are_baseline()
        defer { sae_kernels_force_baseline(original) }
        func both<T>(_ body: () -> T) -> (baseline: T, avx2: T) {
            sae_kernels_force_baseline(1)
            let baseline = body()
            sae_kernels_force_baseline(0)
            return (baseline, body())
        }
        func assertClose(_ a: [Float], _ b: [Float], relative: Float = 1e-6, _ what: String) {
            XCTAssertEqual(a.count, b.count, what)
            let scale = max(a.reduce(0) { max($0, abs($1)) }, 1e-30)
            for i in a.indices where abs(a[i] - b[i]) > relative * scale {
                XCTFail("\(what): element \(i): \(a[i]) (baseline) vs \(b[i]) (AVX2)")
                return
            }
        }
        let (rows, cols, d) = (24, 200, 37)
        let pre = randomFloats(rows * cols, seed: 11, in: -3...3), bias = randomFloats(cols, seed: 12, in: -1...1)
        for activation in [SAE_LINEAR, SAE_RELU, SAE_SIGMOID] {
            let y = both { () -> [Float] in var y = pre; sae_bias_activation(&y, bias, rows, cols, Int32(activation)); return y }
            assertClose(y.baseline, y.avx2, "bias + activation \(activation)")
            let back = both { () -> [Float] in
                var dy = pre, db = [Float](repeating: 0, count: cols)
                sae_activation_backward(y.avx2, &dy, &db, rows, cols, cols, Int32(activation))
                return dy + db
            }
            assertClose(back.baseline, back.avx2, "activation backward \(activation)")
        }
        let targets = randomFloats(rows * cols, seed: 13, in: 0...1)
        for (name, loss) in [("bce", sae_bce), ("sigmoid mse", sae_mse), ("squared error", sae_squared_error)] {
            let r = both { () -> (Double, [Float]) in
                var grad = [Float](repeating: 0, count: rows * cols)
                return (loss(pre, targets, &grad, rows * cols, 0.5), grad)
            }
            XCTAssertEqual(r.baseline.0, r.avx2.0, accuracy: abs(r.avx2.0) * 1e-6, name)
            assertClose(r.baseline.1, r.avx2.1, name + " gradient")
        }
        let adam = both { () -> [Float] in
            var (p, g) = (pre, randomFloats(rows * cols, seed: 14, in: -1...1))
            var (m, v) = (randomFloats(rows * cols, seed: 15, in: -0.1...0.1), randomFloats(rows * cols, seed: 16, in: 0...0.01))
            XCTAssertEqual(sae_adam(&p, &g, &m, &v, rows * cols, 1e-3, 0.1, 0.001, 1e-7), 1)
            return p + m + v + g
        }
        assertClose(adam.baseline, adam.avx2, "adam")
        let k = 9
        let selection = both { () -> ([Float], [Int32]) in
            var values = [Float](repeating: 0, count: rows * k), latents = [Int32](repeating: 0, count: rows * k)
            var scratch = [Float](repeating: 0, count: SparseBuffers.selectionScratchSize(codeSize: cols))
            sae_topk_select(pre, bias, rows, cols, k, &values, &latents, &scratch)
            return (values, latents)
        }
        XCTAssertEqual(selection.baseline.1, selection.avx2.1, "topk selection")
        XCTAssertEqual(selection.baseline.0, selection.avx2.0, "topk values")
        let w = randomFloats(cols * d, seed: 17, in: -1...1), bDec = randomFloats(d, seed: 18, in: -1...1)
        let decoded = both { () -> [Float] in
            var out = [Float](repeating: 0, count: rows * d)
            var offsets = [Int32](repeating: 0, count: rows + 1), samples = [Int32](repeating: 0, count: rows * k)
            sae_uniform_rows(rows, k, 0, &offsets, &samples)
            sae_sparse_decode(selection.avx2.0, selection.avx2.1, offsets, rows, w, bDec, d, &out)
            return out
        }
        assertClose(decoded.baseline, decoded.avx2, "sparse decode")
        let normalized = both { () -> [Float] in var rowsCopy = w; sae_normalize_rows(&rowsCopy, cols, d); return rowsCopy }
        assertClose(normalized.baseline, normalized.avx2, "normalize rows")
        let centred = both { () -> [Float] in
            var out = [Float](repeating: 0, count: cols * d)
            sae_subtract_row(w, bDec, &out, cols, d)
            return out
        }
        XCTAssertEqual(centred.baseline, centred.avx2, "subtract row")
        #else
        throw XCTSkip("one variant only off x86-64")
        #endif
    }

    /// Every half-precision bit pattern converts exactly (the variant this run uses: F16C's, or
    /// the baseline's under SAE_KERNELS=baseline, which scripts/test-kinds.sh runs).
    func testHalfPrecisionConvertsEveryValueExactly() {
        let half = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: half.count)
        sae_half_to_float(half, &out, half.count)
        for (bits, value) in zip(half, out) {
            let expected = Float(Float16(bitPattern: bits))
            if expected.isNaN { XCTAssertTrue(value.isNaN, "\(bits)") } else { XCTAssertEqual(value.bitPattern, expected.bitPattern, "\(bits)") }
        }
    }
}

extension KernelTests {
    func testBFloat16ConvertsEveryValueExactly() {
        let bf16 = (0...UInt16.max).map { $0 }
        var out = [Float](repeating: 0, count: bf16.count)
        sae_bfloat16_to_float(bf16, &out, bf16.count)
        for (bits, value) in zip(bf16, out) { XCTAssertEqual(value.bitPattern, UInt32(bits) << 16, "\(bits)") }
    }
}
