import Foundation

/// A dense autoencoder with a sparsity penalty on its code, trained like Keras trains the
/// tutorial's models.
///
///     let model = try Autoencoder(config: .tutorial(.l1(lambda: 1e-5)), seed: 1)
///     let history = try model.fit(train, validation: test, settings: TrainingSettings())
///     let codes = model.encode(test)          // (test.count, 64)
///     try model.save(to: "run/model.safetensors")
///
/// All parameters live in one allocation, layer after layer (kernel then bias), which is
/// also the order of the gradient buffer and Adam's moments.
public final class Autoencoder {
    public let config: AutoencoderConfig
    public let layers: [Dense]
    public let parameterCount: Int
    /// Every kernel and bias, in layer order.
    let parameters: UnsafeMutableBufferPointer<Float>

    /// A new model with glorot-uniform kernels, U(-a, a), a = sqrt(6 / (in + out)), and zero biases.
    /// A dictionary SAE draws its decoder so and starts with the encoder as its transpose (each
    /// latent reads along the direction it writes), as Gao et al. do, scaled by 1/sqrt(3); with
    /// `unitNormDecoder` the decoder rows start at unit length.
    public convenience init(config: AutoencoderConfig, seed: UInt64) throws {
        try self.init(config: config)
        var rng = SeededGenerator(seed: seed)
        let random = config.architecture == .dictionary ? [layers[1]] : layers
        for layer in random {
            let a = (6 / Float(layer.inputSize + layer.outputSize)).squareRoot()
            for i in 0..<(layer.inputSize * layer.outputSize) {
                parameters[layer.kernelOffset + i] = (2 * rng.nextUnitFloat() - 1) * a
            }
        }
        if config.unitNormDecoder { normalizeDecoder() }
        if config.architecture == .dictionary { tieEncoderToDecoder() }
    }

    /// A model with all parameters zero (weights are then loaded or set).
    init(config: AutoencoderConfig) throws {
        try config.validate()
        self.config = config
        var offset = 0
        var layers: [Dense] = []
        for shape in config.layerShapes {
            let kernel = offset
            offset += shape.inputSize * shape.outputSize
            var layer = Dense(inputSize: shape.inputSize, outputSize: shape.outputSize,
                              activation: shape.activation, kernelOffset: kernel, biasOffset: offset)
            if shape.activation == .topk { layer.k = config.topK ?? shape.outputSize }
            // A dictionary's encoder is stored latent by latent (c, d), like its decoder.
            layer.unitMajor = config.architecture == .dictionary && layers.isEmpty
            layers.append(layer)
            offset += shape.outputSize
        }
        self.layers = layers
        parameterCount = offset
        parameters = .allocate(capacity: offset)
        parameters.initialize(repeating: 0)
    }

    deinit { parameters.deallocate() }

    public var codeLayerIndex: Int { config.codeLayerIndex }

    /// A copy of the parameters (kernels and biases in layer order).
    public var parameterValues: [Float] {
        get { Array(parameters) }
        set {
            precondition(newValue.count == parameterCount, "expected \(parameterCount) parameters")
            _ = parameters.update(fromContentsOf: newValue)
        }
    }

    // MARK: - Forward and backward over a workspace

    /// Runs every layer over the first `batch` rows of `ws.input` (a dictionary SAE first
    /// subtracts b_dec; with AuxK the code layer keeps its pre-activations). A workspace made for
    /// the sparse TopK step runs that instead (see `SparseTopK.swift`): the whole model, always.
    func forward(_ ws: Workspace, batch: Int, through last: Int? = nil) {
        if let sparse = ws.sparse { return sparseForward(ws, sparse, batch: batch) }
        let p = UnsafePointer(parameters.baseAddress!)
        if let centered = ws.centered { center(ws.input, into: centered, rows: batch) }
        for (l, layer) in layers.enumerated() where l <= (last ?? layers.count - 1) {
            if l == codeLayerIndex, let aux = ws.aux {
                forwardKeepingPreActivations(layer, ws.layerInput(l), ws.outputs[l], aux.preCode, batch: batch)
            } else {
                layer.forward(ws.layerInput(l), ws.outputs[l], batch: batch, parameters: p)
            }
        }
    }

    /// After `forward`: the batch loss (reconstruction mean over B x D, plus the penalty already
    /// divided by B). If `gradients` is given, the gradient of their sum is *added* into it, and
    /// with AuxK (and dead latents marked in `ws.aux.dead`) so is the auxiliary loss's, whose value
    /// is returned as `aux`.
    func loss(_ ws: Workspace, batch: Int, gradients: UnsafeMutablePointer<Float>?,
              timer: PhaseTimer? = nil) -> (reconstruction: Double, penalty: Double, aux: Double) {
        if let sparse = ws.sparse { return sparseLoss(ws, sparse, batch: batch, gradients: gradients, timer: timer) }
        let d = config.inputSize, last = layers.count - 1, code = codeLayerIndex
        let scale = 1 / Float((ws.lossBatch ?? batch) * d)
        let reconstruction = config.loss.evaluate(
            logits: ws.outputs[last], targets: ws.input, rows: batch, cols: d,
            gradient: gradients == nil ? nil : ws.deltas[last], scale: scale, linear: config.hasLinearOutput) * Double(scale)
        timer?.mark(.loss)
        guard let gradients else {
            let penalty = config.penalty.evaluate(code: ws.outputs[code], rows: batch, cols: config.codeSize,
                                                  gradient: nil, scratch: ws.scratch)
            return (reconstruction, penalty, 0)
        }
        let aux = ws.aux.flatMap { auxLoss($0, ws, batch: batch, gradients: gradients) }
        var penalty = 0.0
        let p = UnsafePointer(parameters.baseAddress!)
        for l in stride(from: last, through: 0, by: -1) {
            let dx = l > 0 ? ws.deltas[l - 1] : nil
            guard l == code else {
                layers[l].backward(ws.layerInput(l), ws.outputs[l], ws.deltas[l], dx, batch: batch, parameters: p, gradients: gradients)
                continue
            }
            // The penalty's gradient joins the one flowing back from the decoder.
            penalty = config.penalty.evaluate(code: ws.outputs[code], rows: batch, cols: config.codeSize,
                                              gradient: ws.deltas[code], scratch: ws.scratch, batch: ws.lossBatch,
                                              sumAcrossRanks: ws.sumAcrossRanks, countsBatchTerms: ws.countsBatchTerms)
            let layer = layers[l]
            layer.activation.backward(output: ws.outputs[l], gradient: ws.deltas[l], biasGradient: gradients + layer.biasOffset,
                                      rows: batch, cols: layer.outputSize)
            // AuxK's gradient reaches the dead latents it used, past the main code's mask.
            if aux != nil, let buffers = ws.aux {
                addAuxCodeGradient(buffers, into: ws.deltas[l], biasGradient: gradients + layer.biasOffset, rows: batch)
            }
            layer.backwardLinear(ws.layerInput(l), ws.deltas[l], dx, batch: batch, parameters: p, gradients: gradients)
        }
        if ws.centered != nil { addCenteringGradient(ws.deltas[0], rows: batch, gradients: gradients, scratch: ws.scratch) }
        return (reconstruction, penalty, aux ?? 0)
    }

    // MARK: - Inference

    /// Runs `rows` samples (rows x inputSize floats) through the layers up to `last`, in batches,
    /// returning that layer's outputs (rows x its size). The output layer gives logits.
    func run(_ x: UnsafePointer<Float>, rows: Int, through last: Int, batchSize: Int = 256) -> [Float] {
        let width = layers[last].outputSize
        var result = [Float](repeating: 0, count: rows * width)
        let ws = Workspace(model: self, capacity: min(batchSize, max(rows, 1)))
        ws.writesDenseCode = last == codeLayerIndex
        result.withUnsafeMutableBufferPointer { out in
            var start = 0
            while start < rows {
                let b = min(ws.capacity, rows - start)
                ws.input.update(from: x + start * config.inputSize, count: b * config.inputSize)
                forward(ws, batch: b, through: last)
                (out.baseAddress! + start * width).update(from: ws.outputs[last], count: b * width)
                start += b
            }
        }
        return result
    }

    /// Codes of `rows` inputs: (rows, codeSize) from (rows, inputSize).
    public func encode(_ x: [Float]) -> [Float] {
        precondition(x.count % config.inputSize == 0, "input is not a whole number of rows of \(config.inputSize)")
        return x.withUnsafeBufferPointer { run($0.baseAddress!, rows: x.count / config.inputSize, through: codeLayerIndex) }
    }

    /// Codes of every image in `images`: (images.count, codeSize).
    public func encode(_ images: Dataset) -> [Float] { encode(images.floats(0..<images.count)) }

    /// Reconstructions (sigmoid outputs in (0, 1), or a dictionary's linear outputs) of `rows`
    /// inputs: (rows, inputSize).
    public func reconstruct(_ x: [Float]) -> [Float] {
        precondition(x.count % config.inputSize == 0, "input is not a whole number of rows of \(config.inputSize)")
        var outputs = x.withUnsafeBufferPointer { run($0.baseAddress!, rows: x.count / config.inputSize, through: layers.count - 1) }
        if !config.hasLinearOutput { for i in outputs.indices { outputs[i] = Activation.sigmoid(outputs[i]) } }
        return outputs
    }

    public func reconstruct(_ images: Dataset) -> [Float] { reconstruct(images.floats(0..<images.count)) }

    /// Reconstructions from codes: (rows, codeSize) -> (rows, inputSize), through the decoder alone.
    public func decode(_ codes: [Float]) -> [Float] {
        let c = config.codeSize
        precondition(codes.count % c == 0, "codes are not a whole number of rows of \(c)")
        let rows = codes.count / c
        let decoder = Array(layers[(codeLayerIndex + 1)...])
        let p = UnsafePointer(parameters.baseAddress!)
        var current = codes
        for layer in decoder {
            var next = [Float](repeating: 0, count: rows * layer.outputSize)
            current.withUnsafeBufferPointer { x in
                next.withUnsafeMutableBufferPointer { y in layer.forward(x.baseAddress!, y.baseAddress!, batch: rows, parameters: p) }
            }
            current = next
        }
        if !config.hasLinearOutput { for i in current.indices { current[i] = Activation.sigmoid(current[i]) } }
        return current
    }
}
