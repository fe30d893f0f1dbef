import Foundation

/// Saving and loading weights as safetensors: `layers.{i}.kernel` (in, out) and `layers.{i}.bias`
/// (out) for each layer i, in Keras's layout (y = x W + b).
extension Autoencoder {
    package var namedTensors: [(name: String, tensor: Safetensors.Tensor)] {
        layers.enumerated().flatMap { i, layer in [
            ("layers.\(i).kernel", Safetensors.Tensor(shape: [layer.inputSize, layer.outputSize], values: kernelValues(layer))),
            ("layers.\(i).bias", Safetensors.Tensor(shape: [layer.outputSize],
                values: Array(parameters[layer.biasOffset..<(layer.biasOffset + layer.outputSize)]))),
        ] } + architectureTensors.map { t in
            (t.name, Safetensors.Tensor(shape: t.shape, values: Array(parameters[t.offset..<(t.offset + t.shape.reduce(1, *))])))
        }
    }

    /// The same tensors, streamed from the parameters when written (no copy of the weights):
    /// a kernel stored latent by latent goes out in Keras's (in, out) layout one row at a time.
    var tensorSources: [Safetensors.Source] {
        let p = UnsafePointer(parameters.baseAddress!)
        return layers.enumerated().flatMap { i, layer -> [Safetensors.Source] in
            let shape = [layer.inputSize, layer.outputSize]
            let kernel = layer.unitMajor
                ? Safetensors.Source(name: "layers.\(i).kernel", shape: shape) { sink in
                    var row = [Float](repeating: 0, count: layer.outputSize)
                    for input in 0..<layer.inputSize {
                        for j in 0..<layer.outputSize { row[j] = p[layer.kernelIndex(input: input, output: j)] }
                        try row.withUnsafeBytes { try sink.write($0) }
                    }
                }
                : Safetensors.Source(name: "layers.\(i).kernel", shape: shape, values: p + layer.kernelOffset)
            return [kernel, Safetensors.Source(name: "layers.\(i).bias", shape: [layer.outputSize], values: p + layer.biasOffset)]
        } + architectureTensors.map { Safetensors.Source(name: $0.name, shape: $0.shape, values: p + $0.offset) }
    }

    /// Writes the weights atomically to a safetensors file.
    public func save(to path: String) throws {
        try Safetensors.write(tensorSources, metadata: ["format": "sae-autoencoder"], to: path)
    }

    /// Rebuilds a model of `config` from a safetensors file, checking every tensor's name and shape.
    public static func load(config: AutoencoderConfig, from path: String) throws -> Autoencoder {
        let model = try Autoencoder(config: config)
        try Safetensors.withFile(path) { tensors, _ in try model.setParameters(from: tensors, path: path, allowing: []) }
        return model
    }

    /// Copies every `layers.*` tensor into the parameters, checking names and shapes against the
    /// config; any other tensor not in `allowing` is an error.
    func setParameters<T: TensorValues>(from tensors: [String: T], path: String, allowing others: Set<String>) throws {
        var expected = others
        for template in tensorSources {   // names and shapes, without copying the weights
            let name = template.name
            expected.insert(name)
            guard let tensor = tensors[name] else {
                throw SAEError.badFile(path, "missing tensor \"\(name)\" needed by the model in config.json")
            }
            guard tensor.shape == template.shape else {
                throw SAEError.badFile(path, "tensor \"\(name)\" has shape \(tensor.shape) but config.json needs \(template.shape)")
            }
            let p = parameters.baseAddress!
            if let state = architectureTensors.first(where: { $0.name == name }) {
                let count = state.shape.reduce(1, *)
                try tensor.read(0..<count, into: p + state.offset)
                if let bad = (0..<count).first(where: { !p[state.offset + $0].isFinite }) {
                    throw SAEError.badFile(path, "tensor \"\(name)\" holds \(p[state.offset + bad]) at index \(bad): the model is damaged; train it again")
                }
                continue
            }
            let layer = layers[Int(name.split(separator: ".")[1])!]
            // Read in file order (a kernel in Keras's (in, out) layout, one input row at a time
            // when the layer stores it latent by latent), each value checked as it arrives.
            let (rows, width) = name.hasSuffix(".kernel") ? (layer.inputSize, layer.outputSize) : (1, layer.outputSize)
            let row = UnsafeMutablePointer<Float>.allocate(capacity: width)
            defer { row.deallocate() }
            for i in 0..<rows {
                let destination = name.hasSuffix(".bias") ? p + layer.biasOffset : layer.unitMajor ? row : p + layer.kernelOffset + i * width
                try tensor.read((i * width)..<((i + 1) * width), into: destination)
                if let bad = (0..<width).first(where: { !destination[$0].isFinite }) {
                    throw SAEError.badFile(path, "tensor \"\(name)\" holds \(destination[bad]) at index \(i * width + bad): the weights are "
                        + "unusable (a diverged or damaged model); train it again")
                }
                if layer.unitMajor && name.hasSuffix(".kernel") {
                    for j in 0..<width { p[layer.kernelIndex(input: i, output: j)] = row[j] }
                }
            }
        }
        if let extra = tensors.keys.sorted().first(where: { !expected.contains($0) }) {
            throw SAEError.badFile(path, "unexpected tensor \"\(extra)\": the weights do not match config.json")
        }
    }

    /// A layer's kernel in Keras's (in, out) layout, whichever way it is stored.
    func kernelValues(_ layer: Dense) -> [Float] {
        guard layer.unitMajor else { return Array(parameters[layer.kernelOffset..<(layer.kernelOffset + layer.inputSize * layer.outputSize)]) }
        var values = [Float](repeating: 0, count: layer.inputSize * layer.outputSize)
        for i in 0..<layer.inputSize { for j in 0..<layer.outputSize { values[i * layer.outputSize + j] = parameters[layer.kernelIndex(input: i, output: j)] } }
        return values
    }

}
