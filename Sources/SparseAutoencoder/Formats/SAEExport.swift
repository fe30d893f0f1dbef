import Foundation

/// Writes a dictionary SAE where interpretability tools load one: a folder with `cfg.json` and
/// the weights as safetensors.
///
/// - `saelens`: `sae_weights.safetensors` with W_enc (d_in, d_sae), b_enc (d_sae),
///   W_dec (d_sae, d_in), b_dec (d_in); `SAE.load_from_disk(folder)` in SAELens.
/// - `sparsify`: `sae.safetensors` with encoder.weight (d_sae, d_in), encoder.bias, W_dec, b_dec
///   (EleutherAI's layout); `Sae.load_from_disk(folder)` in sparsify.
///
/// Both compute z = act((x - b_dec) W_enc + b_enc) (topk keeps each row's k largest, then relu)
/// and x^ = z W_dec + b_dec, exactly as `Autoencoder.encode` and `reconstruct` do here. A jumprelu
/// SAE (SAELens only) adds `threshold` (d_sae): z = relu(pre) where pre > threshold; a batchtopk
/// SAE is saved as SAELens saves its own, as that JumpReLU with its inference threshold for
/// every latent. A gated SAE goes out as SAELens's `gated`: W_enc, b_gate, r_mag, b_mag, W_dec,
/// b_dec.
///
/// A transcoder (encodes x, decodes to y) goes out as SAELens's `transcoder` (relu) or
/// `jumprelu_transcoder` (jumprelu, and batchtopk/matryoshka with their shared threshold):
/// W_dec (d_sae, d_out), b_dec (d_out), `apply_b_dec_to_input` false; a TopK transcoder whose
/// output has the input's width as sparsify's (`transcode`: true). SAELens has neither TopK nor
/// gated transcoders, and sparsify's decode to the input's width: those are refused.
///
///     try SAEExport.write(model, format: .saelens, to: "export/my-sae")
public enum SAEExport {
    public enum Format: String, CaseIterable, Sendable {
        case saelens, sparsify

        /// The files a format writes into its directory.
        package var files: [String] { self == .saelens ? ["sae_weights.safetensors", "cfg.json"] : ["sae.safetensors", "cfg.json"] }
    }

    /// Names for the source of the activations, recorded in cfg.json (SAELens uses them to hook
    /// the model; they may be empty).
    public struct Source: Sendable {
        public var modelName: String
        public var hookName: String

        public init(modelName: String = "", hookName: String = "") {
            self.modelName = modelName
            self.hookName = hookName
        }
    }

    /// The files written, in order.
    @discardableResult
    /// Files that exist are replaced only with `force` (see `UserOutput`); a run directory as
    /// `directory` is locked first.
    public static func write(_ model: Autoencoder, format: Format, to directory: String, source: Source = Source(),
                             force: Bool = false) throws -> [String] {
        let config = model.config
        // The architecture's own tensors, under the names SAELens gives them (a jumprelu SAE's
        // thresholds, a gated SAE's r_mag and b_mag); a batchtopk or matryoshka SAE's inference
        // threshold goes out for every latent (as SAELens saves its own: a JumpReLU for inference).
        var own: [(name: String, tensor: Safetensors.Tensor)] = []
        for tensor in model.architectureTensors {
            let values = Array(model.parameters[tensor.offset..<(tensor.offset + tensor.shape.reduce(1, *))])
            if tensor.name == "threshold" && config.architecture.hasSharedThreshold {
                guard values[0] >= 0 else {
                    throw SAEError("this \(config.architecture.rawValue) SAE has no inference threshold yet (it is set from training step 1,001 on): train it longer before exporting")
                }
                own.append((tensor.name, Safetensors.Tensor(shape: [config.codeSize], values: [Float](repeating: values[0], count: config.codeSize))))
            } else {
                own.append((tensor.name, Safetensors.Tensor(shape: tensor.shape, values: values)))
            }
        }
        guard config.isDictionary else {
            throw SAEError("only a dictionary SAE can be exported (this run is a \(config.architecture.rawValue) autoencoder with a sigmoid output); "
                + "train one with --architecture dictionary")
        }
        guard config.codeActivation == .relu || config.codeActivation == .topk else {
            throw SAEError("SAELens and sparsify SAEs have relu or topk latents; this run's are \(config.codeActivation.rawValue)")
        }
        let (d, c, dOut) = (config.inputSize, config.codeSize, config.targetSize)
        let tensors = Dictionary(uniqueKeysWithValues: model.namedTensors)
        let wEnc = tensors["layers.0.kernel"]!, bEnc = tensors["layers.0.bias"]!
        let wDec = tensors["layers.1.kernel"]!, bDec = tensors["layers.1.bias"]!
        let k = config.codeActivation == .topk ? config.topK : nil
        let weights: [(name: String, tensor: Safetensors.Tensor)]
        let cfg: [String: Any]
        let weightsFile: String
        switch format {
        case .saelens:
            weightsFile = "sae_weights.safetensors"
            let architecture = config.architecture
            var name = k != nil ? "topk" : architecture.saelensArchitecture
            if config.isTranscoder {
                guard let transcoder = ["standard": "transcoder", "jumprelu": "jumprelu_transcoder"][name] else {
                    let other = k != nil && dOut == d ? " (export it as sparsify, which has TopK transcoders)" : ""
                    throw SAEError("SAELens has relu and jumprelu transcoders but no \(k != nil ? "topk" : architecture.rawValue) transcoder\(other)")
                }
                name = transcoder
            }
            weights = [("W_enc", wEnc), (architecture.saelensEncoderBias, bEnc), ("W_dec", wDec), ("b_dec", bDec)] + own
            var fields: [String: Any] = [
                "architecture": name, "d_in": d, "d_sae": c, "dtype": "float32", "device": "cpu",
                "apply_b_dec_to_input": !config.isTranscoder, "normalize_activations": "none", "reshape_activations": "none",
                "activation_fn_str": k == nil ? "relu" : "topk", "activation_fn_kwargs": k.map { ["k": $0] } ?? [:],
                "model_name": source.modelName, "hook_name": source.hookName,
                "metadata": ["model_name": source.modelName, "hook_name": source.hookName],
            ]
            if let k { fields["k"] = k }
            if config.isTranscoder { fields["d_out"] = dOut }
            cfg = fields
        case .sparsify:
            guard let k else {
                let kind = config.architecture.selectsItsCode ? "a \(config.architecture.rawValue) SAE's" : "relu"
                throw SAEError("sparsify SAEs are TopK; this run's latents are \(kind) (export it as saelens)")
            }
            guard dOut == d else {
                throw SAEError("sparsify's transcoders decode to their input's width (\(d)), but this one predicts \(dOut) features: no format here loads it")
            }
            weightsFile = "sae.safetensors"
            // encoder.weight is torch.nn.Linear's (out, in): W_enc transposed.
            var transposed = [Float](repeating: 0, count: d * c)
            for i in 0..<d { for j in 0..<c { transposed[j * d + i] = wEnc.values[i * c + j] } }
            weights = [("encoder.weight", Safetensors.Tensor(shape: [c, d], values: transposed)), ("encoder.bias", bEnc),
                       ("W_dec", wDec), ("b_dec", bDec)]
            cfg = ["d_in": d, "num_latents": c, "expansion_factor": max(1, c / d), "k": k,
                   "normalize_decoder": config.unitNormDecoder, "multi_topk": false, "skip_connection": false,
                   "transcode": config.isTranscoder]
        }
        let json = try JSONSerialization.data(withJSONObject: cfg, options: [.prettyPrinted, .sortedKeys])
        // Only now, with everything refusable refused, is the directory made.
        try UserOutput.makeDirectory(directory)
        if FileManager.default.fileExists(atPath: directory + "/" + DirectoryLock.configFile) { try DirectoryLock(directory: directory).lock() }
        try UserOutput.write([(weightsFile, Data(Safetensors.encode(weights, metadata: ["format": "pt"]))),
                              ("cfg.json", json + Data("\n".utf8))], into: directory, force: force)
        return [directory + "/" + weightsFile, directory + "/cfg.json"]
    }
}
