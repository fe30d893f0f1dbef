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
/// also the order of the gradient buffer and Adam's moments. A training step runs over a
/// `Workspace` as llm.c's does: `forward` (and `loss`), `backward`, `update`
/// (`Autoencoder+Step.swift`).
public final class Autoencoder {
    public let config: AutoencoderConfig
    public let layers: [Dense]
    public let parameterCount: Int
    /// Every kernel and bias, in layer order.
    let parameters: UnsafeMutableBufferPointer<Float>
    /// Centring, AuxK and unit-norm decoder rows, where the config asks for them (see
    /// `DictionaryBehaviour`); nil for the tutorial's models.
    let dictionary: DictionaryBehaviour?
    /// How a dictionary's sparse step chooses its code (`Architectures/`); nil on the dense path.
    let selection: CodeSelection?
    /// Tensors of the selection's state, after the layers in `parameters`: (name in files, shape, offset).
    let architectureTensors: [(name: String, shape: [Int], offset: Int)]

    /// A new model with glorot-uniform kernels, U(-a, a), a = sqrt(6 / (in + out)), and zero biases.
    /// A dictionary SAE draws its decoder so and starts with the encoder as its transpose (each
    /// latent reads along the direction it writes), as Gao et al. do, scaled by 1/sqrt(3); with
    /// `unitNormDecoder` the decoder rows start at unit length.
    public convenience init(config: AutoencoderConfig, seed: UInt64) throws {
        try self.init(config: config)
        var rng = SeededGenerator(seed: seed)
        let random = config.isDictionary ? [layers[1]] : layers
        for layer in random {
            let a = (6 / Float(layer.inputSize + layer.outputSize)).squareRoot()
            for i in 0..<(layer.inputSize * layer.outputSize) {
                parameters[layer.kernelOffset + i] = (2 * rng.nextUnitFloat() - 1) * a
            }
        }
        dictionary?.initialize(rng: &rng)
    }

    /// A model with all parameters zero (weights are then loaded or set).
    package convenience init(config: AutoencoderConfig) throws {
        try self.init(config: config) { $0 }
    }

    /// The same, with `wrap` around the code selection the config's architecture makes (a latent
    /// shard's, `LatentShard`).
    init(config: AutoencoderConfig, selection wrap: (CodeSelection?) -> CodeSelection?) throws {
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
            layer.unitMajor = config.isDictionary && layers.isEmpty
            layers.append(layer)
            offset += shape.outputSize
        }
        self.layers = layers
        // The code selection's state (BatchTopK's threshold) after the layers: saved and restored
        // with them; its gradient is always zero, so Adam leaves it as the selection sets it.
        var state: [(name: String, shape: [Int], offset: Int)] = []
        let tensors = Architectures.tensors(for: config)
        for tensor in tensors {
            state.append((tensor.name, tensor.shape, offset))
            offset += tensor.shape.reduce(1, *)
        }
        architectureTensors = state
        parameterCount = offset
        let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: offset)
        p.initialize(repeating: 0)
        for (tensor, placed) in zip(tensors, state) {
            for i in 0..<tensor.shape.reduce(1, *) { p[placed.offset + i] = tensor.initial }
        }
        parameters = p
        dictionary = DictionaryBehaviour(config: config, layers: layers, parameters: p.baseAddress!)
        selection = wrap(Architectures.make(for: config, tensors: state.first.map { p.baseAddress! + $0.offset }))
    }

    deinit { parameters.deallocate() }

    package var codeLayerIndex: Int { config.codeLayerIndex }

    /// A copy of the parameters (kernels and biases in layer order).
    public var parameterValues: [Float] {
        get { Array(parameters) }
        set {
            precondition(newValue.count == parameterCount, "expected \(parameterCount) parameters")
            _ = parameters.update(fromContentsOf: newValue)
        }
    }

    // MARK: - Inference

    /// Runs `rows` samples (rows x inputSize floats) through the layers up to `last`, in batches,
    /// returning that layer's outputs (rows x its size). The output layer gives logits.
    func run(_ x: UnsafePointer<Float>, rows: Int, through last: Int, batchSize: Int = 256) -> [Float] {
        let width = layers[last].outputSize
        var result = [Float](repeating: 0, count: rows * width)
        let ws = Workspace(model: self, capacity: min(batchSize, max(rows, 1)), denseCode: last == codeLayerIndex)
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
    public func encode(_ images: Dataset) -> [Float] { collect(images, through: codeLayerIndex) }

    /// Reconstructions (sigmoid outputs in (0, 1), or a dictionary's linear outputs; a
    /// transcoder's predictions) of `rows` inputs: (rows, targetSize).
    public func reconstruct(_ x: [Float]) -> [Float] {
        precondition(x.count % config.inputSize == 0, "input is not a whole number of rows of \(config.inputSize)")
        var outputs = x.withUnsafeBufferPointer { run($0.baseAddress!, rows: x.count / config.inputSize, through: layers.count - 1) }
        if !config.hasLinearOutput { for i in outputs.indices { outputs[i] = Activation.sigmoid(outputs[i]) } }
        return outputs
    }

    public func reconstruct(_ images: Dataset) -> [Float] { collect(images, through: layers.count - 1) }

    /// Runs every sample of `data` through the layers up to `last` in batches, in order, handing
    /// each batch's outputs to `body`: (rows, that layer's width), reconstructions (sigmoid'd
    /// where the output is logits) for the last layer. Memory is one batch whatever the size of
    /// `data`, so the codes of a dataset streamed from disk can go straight to a file.
    package func forEachOutputBatch(of data: Dataset, through last: Int, batchSize: Int = 256,
                                    _ body: (UnsafeBufferPointer<Float>, Int) throws -> Void) rethrows {
        guard data.count > 0 else { return }
        let ws = Workspace(model: self, capacity: min(batchSize, data.count), denseCode: last == codeLayerIndex)
        let width = layers[last].outputSize, sigmoid = last == layers.count - 1 && !config.hasLinearOutput
        var indices = [Int](repeating: 0, count: ws.capacity)
        for start in stride(from: 0, to: data.count, by: ws.capacity) {
            let b = min(ws.capacity, data.count - start)
            for i in 0..<b { indices[i] = start + i }
            indices.withUnsafeBufferPointer { ws.load(data, rows: UnsafeBufferPointer(rebasing: $0[0..<b])) }
            forward(ws, batch: b, through: last)
            let out = ws.outputs[last]
            if sigmoid { for i in 0..<(b * width) { out[i] = Activation.sigmoid(out[i]) } }
            try body(UnsafeBufferPointer(start: out, count: b * width), b)
            FaultInjection.reach("batch")
        }
    }

    /// `forEachOutputBatch` gathered into one array: (data.count, width).
    private func collect(_ data: Dataset, through last: Int) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(data.count * layers[last].outputSize)
        forEachOutputBatch(of: data, through: last) { batch, _ in result.append(contentsOf: batch) }
        return result
    }

    /// Reconstructions from codes: (rows, codeSize) -> (rows, targetSize), through the decoder alone.
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
