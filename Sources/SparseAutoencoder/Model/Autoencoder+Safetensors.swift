import Foundation

/// Saving and loading weights as safetensors: `layers.{i}.kernel` (in, out) and `layers.{i}.bias`
/// (out) for each layer i, in Keras's layout (y = x W + b).
extension Autoencoder {
    package var namedTensors: [(name: String, tensor: Safetensors.Tensor)] {
        layers.enumerated().flatMap { i, layer in [
            ("layers.\(i).kernel", Safetensors.Tensor(shape: [layer.inputSize, layer.outputSize], values: kernelValues(layer))),
            ("layers.\(i).bias", Safetensors.Tensor(shape: [layer.outputSize],
                values: Array(parameters[layer.biasOffset..<(layer.biasOffset + layer.outputSize)]))),
        ] }
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
        }
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
    func setParameters(from tensors: [String: Safetensors.View], path: String, allowing others: Set<String>) throws {
        var expected = others
        for (name, template) in namedTensors {
            expected.insert(name)
            guard let tensor = tensors[name] else {
                throw SAEError.badFile(path, "missing tensor \"\(name)\" needed by the model in config.json")
            }
            guard tensor.shape == template.shape else {
                throw SAEError.badFile(path, "tensor \"\(name)\" has shape \(tensor.shape) but config.json needs \(template.shape)")
            }
            if let bad = (0..<tensor.count).first(where: { !tensor[$0].isFinite }) {
                throw SAEError.badFile(path, "tensor \"\(name)\" holds \(tensor[bad]) at index \(bad): the weights are unusable "
                    + "(a diverged or damaged model); train it again")
            }
            let i = Int(name.split(separator: ".")[1])!
            let layer = layers[i]
            if name.hasSuffix(".kernel") {
                // Keras's (in, out) layout in the file, whichever way the layer stores it.
                for i in 0..<layer.inputSize {
                    for j in 0..<layer.outputSize { parameters[layer.kernelIndex(input: i, output: j)] = tensor[i * layer.outputSize + j] }
                }
            } else {
                for k in 0..<tensor.count { parameters[layer.biasOffset + k] = tensor[k] }
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
