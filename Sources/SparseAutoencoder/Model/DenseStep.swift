/// The dense step: every layer's product, for the tutorial's mirrored models and the dictionaries
/// whose codes are not chosen by a selection (relu, with or without L1), and for a TopK
/// dictionary when tests compare it with the sparse step. A dictionary's centring, AuxK and
/// unit-norm decoder happen at fixed points of its passes (`DictionaryBehaviour`).
extension Autoencoder {
    // MARK: - Forward

    /// Runs every layer (or those up to `last`) over the first `batch` rows of `ws.input`.
    /// x: (B, d); outputs[l]: (B, n_l), the last layer's being logits (or a dictionary's x^).
    func denseForward(_ ws: Workspace, batch: Int, through last: Int?) {
        let p = UnsafePointer(parameters.baseAddress!)
        // A dictionary's encoder reads x - b_dec.
        if let dictionary, let centered = ws.centered { dictionary.center(ws.input, into: centered, rows: batch) }
        for (l, layer) in layers.enumerated() where l <= (last ?? layers.count - 1) {
            if l == codeLayerIndex, let dictionary, let aux = ws.aux {
                // AuxK picks dead latents from the code's pre-activations.
                dictionary.encodeKeepingPreActivations(ws.layerInput(l), ws.outputs[l], aux.preCode, batch: batch)
            } else {
                layer.forward(ws.layerInput(l), ws.outputs[l], batch: batch, parameters: p)
            }
        }
    }

    // MARK: - Loss

    /// After `forward`: the batch's loss. With `keepingGradient` it also leaves what `backward`
    /// starts from: dL/d(output) in `ws.deltas[last]` (computed in the same pass as the value),
    /// KL's per-unit terms in `ws.scratch`, and AuxK's dL_aux/de^. AuxK runs when `dead` is given
    /// and some latent in it is dead.
    func denseLoss(_ ws: Workspace, batch: Int, dead: DeadLatents?, keepingGradient: Bool) -> BatchLoss {
        let d = config.targetSize, last = layers.count - 1, code = codeLayerIndex
        // x^ against x (a transcoder's y^ against y): mean over B x D. h: (B, c)
        let scale = 1 / Float((ws.lossBatch ?? batch) * d)
        let reconstruction = config.loss.evaluate(
            logits: ws.outputs[last], targets: ws.target, rows: batch, cols: d,
            gradient: keepingGradient ? ws.deltas[last] : nil, scale: scale, linear: config.hasLinearOutput) * Double(scale)
        let penalty = config.penalty.scaled(by: ws.sparsityScale).value(code: ws.outputs[code], rows: batch, cols: config.codeSize, scratch: ws.scratch,
                                           batch: ws.lossBatch, sumAcrossRanks: ws.sumAcrossRanks,
                                           countsBatchTerms: ws.countsBatchTerms)
        var aux = 0.0
        if let buffers = ws.aux {
            buffers.deadCount = 0
            if let dictionary, let dead {
                aux = dictionary.auxLoss(buffers, ws, output: ws.outputs[last], batch: batch, dead: dead)
            }
        }
        return BatchLoss(reconstruction: reconstruction, penalty: penalty, aux: aux)
    }

    // MARK: - Backward

    /// After `loss(keepingGradient: true)`: adds the gradient of the batch's loss (and AuxK's)
    /// with respect to every parameter into `g` (parameterCount floats). A unit-norm decoder's
    /// gradient comes out projected onto its rows' tangent spaces (what the update needs).
    /// deltas[l]: (B, n_l), dL/d(outputs[l]), overwritten layer by layer from the last.
    func denseBackward(_ ws: Workspace, batch: Int, gradients g: UnsafeMutablePointer<Float>) {
        let p = UnsafePointer(parameters.baseAddress!), code = codeLayerIndex
        if let dictionary, let aux = ws.aux { dictionary.auxBackward(aux, batch: batch, gradients: g) }
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = layers[l], dx = l > 0 ? ws.deltas[l - 1] : nil
            if l == code {
                // The penalty's gradient joins the one flowing back from the decoder.
                config.penalty.scaled(by: ws.sparsityScale).addGradient(code: ws.outputs[l], rows: batch, cols: layer.outputSize, scratch: ws.scratch,
                                           batch: ws.lossBatch, into: ws.deltas[l])
            }
            layer.activation.backward(output: ws.outputs[l], gradient: ws.deltas[l], biasGradient: g + layer.biasOffset,
                                      rows: batch, cols: layer.outputSize)
            // AuxK's gradient reaches the dead latents it used, past the main code's mask.
            if l == code, let dictionary, let aux = ws.aux, aux.deadCount > 0 {
                dictionary.addAuxCodeGradient(aux, into: ws.deltas[l], gradients: g, rows: batch)
            }
            layer.backwardLinear(ws.layerInput(l), ws.deltas[l], dx, batch: batch, parameters: p, gradients: g)
        }
        dictionary?.finishBackward(codeDelta: ws.deltas[code], rows: batch, gradients: g, scratch: ws.scratch)
    }
}
