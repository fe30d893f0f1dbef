/// Activation normalisation folded into a dictionary's weights (SAELens's
/// `fold_activation_norm_scaling_factor`): a model trained on x' = s_x x (and targets y' = s_y y)
/// becomes one that reads x and writes y as stored, with the same code for every input.
///
///     pre = W_enc (s_x x - b_dec) + b_enc = (s_x W_enc) (x - b_dec / s_x) + b_enc
///     y^  = (W_dec f + b_dec) / s_y       = (W_dec / s_y) f + b_dec / s_y
///
/// For an autoencoder s_y = s_x (b_dec lives in the input's space, as the centring shows); a
/// transcoder does not centre, so its encoder takes s_x alone. Thresholds, gates and every other
/// architecture tensor act on the pre-activations, which do not change.
extension Autoencoder {
    public func foldNormalization(inputScale sx: Float, targetScale sy: Float) {
        precondition(config.isDictionary, "activation normalisation is a dictionary's")
        let (encoder, decoder) = (layers[0], layers[1])
        let p = parameters.baseAddress!
        for i in 0..<(config.inputSize * config.codeSize) { p[encoder.kernelOffset + i] *= sx }
        for i in 0..<(config.codeSize * config.targetSize) { p[decoder.kernelOffset + i] /= sy }
        for i in 0..<config.targetSize { p[decoder.biasOffset + i] /= sy }
    }
}
