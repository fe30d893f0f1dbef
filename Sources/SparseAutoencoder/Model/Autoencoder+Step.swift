/// One training step, in llm.c's order, over a `Workspace` holding a batch in `ws.input`:
///
///     model.forward(ws, batch: b)                              // activations
///     let loss = model.loss(ws, batch: b, dead: dead,          // the loss's value, and dL/d(output)
///                           keepingGradient: true)
///     model.backward(ws, batch: b, gradients: g)               // g += dL/d(parameters)
///     model.update(with: adam, gradients: g)                   // one Adam step; g back to zero
///
/// A workspace runs one of two steps: the dense one (`DenseStep.swift`: the tutorial's models and
/// relu dictionaries) or the sparse one (`SparseStep.swift`: every architecture of
/// `Architectures/`, each choosing its code behind the `CodeSelection` seam).
extension Autoencoder {
    /// One batch's loss terms. The objective (what training reports) is reconstruction + penalty;
    /// AuxK's loss only steers the gradient.
    struct BatchLoss {
        /// Mean over the batch's B x D reconstruction terms.
        var reconstruction: Double
        /// The activity penalty, already divided by B.
        var penalty: Double
        /// AuxK's loss (0 without AuxK or when no latent is dead).
        var aux: Double

        var objective: Double { reconstruction + penalty }
    }

    // MARK: - Forward, loss, backward: the dense or the sparse step

    /// Runs every layer (or those up to `last`) over the first `batch` rows of `ws.input`.
    /// x: (B, d); outputs[l]: (B, n_l), the last layer's being logits (or a dictionary's x^).
    func forward(_ ws: Workspace, batch: Int, through last: Int? = nil) {
        if let sparse = ws.sparse { sparseForward(ws, sparse, batch: batch) } else { denseForward(ws, batch: batch, through: last) }
    }

    /// After `forward`: the batch's loss. With `keepingGradient` it also leaves what `backward`
    /// starts from (dL/d(output), and what the penalties and AuxK need). AuxK runs when `dead` is
    /// given and some latent in it is dead.
    func loss(_ ws: Workspace, batch: Int, dead: DeadLatents? = nil, keepingGradient: Bool = false) -> BatchLoss {
        if let sparse = ws.sparse { return sparseLoss(ws, sparse, batch: batch, dead: dead, keepingGradient: keepingGradient) }
        return denseLoss(ws, batch: batch, dead: dead, keepingGradient: keepingGradient)
    }

    /// After `loss(keepingGradient: true)`: adds the gradient of the batch's loss (and AuxK's)
    /// with respect to every parameter into `g` (parameterCount floats). A unit-norm decoder's
    /// gradient comes out projected onto its rows' tangent spaces (what the update needs).
    func backward(_ ws: Workspace, batch: Int, gradients g: UnsafeMutablePointer<Float>) {
        if let sparse = ws.sparse { sparseBackward(ws, sparse, batch: batch, gradients: g) } else { denseBackward(ws, batch: batch, gradients: g) }
    }

    // MARK: - Update

    /// One Adam step on every parameter from `g` (which it sets back to zero), then a unit-norm
    /// decoder's rows back to length 1. Returns false when a parameter became NaN or infinite.
    @discardableResult
    func update(with optimizer: Adam, gradients g: UnsafeMutablePointer<Float>) -> Bool {
        let finite = optimizer.update(parameters.baseAddress!, gradients: g)
        if let dictionary, dictionary.unitNormDecoder { dictionary.normalizeDecoder() }
        return finite
    }
}
