/// A fully connected layer, y = act(x W + b), as a forward/backward pair over raw buffers.
///
/// W is stored (in, out) as Keras stores its kernels, so `x W` is a plain row-major product, or,
/// with `unitMajor`, as its transpose (out, in): each output unit's weights contiguous, which a
/// dictionary SAE's encoder needs so that a sparse step's gradient lands in whole rows.
/// The layer owns no memory: parameters live in the model's single `ParameterBuffer` and
/// activations in the trainer's preallocated `Workspace`.
public struct Dense: Sendable, Equatable {
    public let inputSize: Int
    public let outputSize: Int
    public let activation: Activation
    /// For a `topk` activation, how many units each sample keeps.
    package var k: Int = 0
    /// Kernel stored (out, in) instead of (in, out).
    package var unitMajor = false
    /// Offsets of the kernel (in * out floats) and bias (out floats) in the parameter buffer.
    package let kernelOffset: Int
    package let biasOffset: Int

    public var parameterCount: Int { inputSize * outputSize + outputSize }

    /// Where W[i][j] (input i, output j) is in the parameter buffer.
    @inline(__always)
    package func kernelIndex(input i: Int, output j: Int) -> Int {
        kernelOffset + (unitMajor ? j * inputSize + i : i * outputSize + j)
    }

    /// y = act(x W + b).
    /// x: (B, in), W: (in, out), b: (out), y: (B, out)
    @inline(__always)
    func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, batch: Int,
                 parameters p: UnsafePointer<Float>) {
        BLAS.gemm(false, unitMajor, m: batch, n: outputSize, k: inputSize,
                  a: x, lda: inputSize, b: p + kernelOffset, ldb: unitMajor ? inputSize : outputSize, c: y, ldc: outputSize)
        activation.addBiasAndApply(y, bias: p + biasOffset, rows: batch, cols: outputSize, k: k)
    }

    /// Given dy = dL/dy (overwritten with dL/dz), accumulates dW and db into `gradients`
    /// and, if `dx` is given, writes dx = dL/dx.
    /// x: (B, in), y: (B, out), dy: (B, out), dx: (B, in)
    @inline(__always)
    func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafeMutablePointer<Float>,
                  _ dx: UnsafeMutablePointer<Float>?, batch: Int,
                  parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>) {
        activation.backward(output: y, gradient: dy, biasGradient: g + biasOffset, rows: batch, cols: outputSize)
        backwardLinear(x, UnsafePointer(dy), dx, batch: batch, parameters: p, gradients: g)
    }

    /// The product's half of `backward`, given dz = dL/dz: accumulates dW and writes dx.
    /// x: (B, in), dz: (B, out), dx: (B, in)
    @inline(__always)
    func backwardLinear(_ x: UnsafePointer<Float>, _ dz: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>?, batch: Int,
                        parameters p: UnsafePointer<Float>, gradients g: UnsafeMutablePointer<Float>) {
        if unitMajor {
            // dW = dz^T x: (out, in)
            BLAS.gemm(true, false, m: outputSize, n: inputSize, k: batch,
                      a: dz, lda: outputSize, b: x, ldb: inputSize, beta: 1, c: g + kernelOffset, ldc: inputSize)
        } else {
            // dW = x^T dz: (in, out)
            BLAS.gemm(true, false, m: inputSize, n: outputSize, k: batch,
                      a: x, lda: inputSize, b: dz, ldb: outputSize, beta: 1, c: g + kernelOffset, ldc: outputSize)
        }
        // dx = dz W^T: (B, in)
        if let dx {
            BLAS.gemm(false, !unitMajor, m: batch, n: inputSize, k: outputSize,
                      a: dz, lda: outputSize, b: p + kernelOffset, ldb: unitMajor ? inputSize : outputSize, c: dx, ldc: inputSize)
        }
    }
}
