import Foundation

/// Reads an SAE trained elsewhere, the reverse of `SAEExport`: a SAELens directory (`cfg.json` +
/// `sae_weights.safetensors`) or a sparsify one (`cfg.json` + `sae.safetensors`), into a model
/// whose `encode` gives the codes the package's own encode gives.
///
/// - SAELens 6: `standard`, `topk`, `jumprelu`, `gated`, `transcoder`, `jumprelu_transcoder`
///   (BatchTopK and Matryoshka SAEs are saved by SAELens as `jumprelu`). Its encoder reads
///   x - b_dec when `apply_b_dec_to_input` (the default) and x otherwise; sae's dictionary always
///   centres, so an SAE that does not has b_dec W_enc folded into its encoder bias (and a gated
///   one's into b_gate and, times exp(r_mag), b_mag): the same pre-activations, rounded once.
///   `normalize_activations` other than none is refused (sae does not rescale inputs).
/// - sparsify 1.x: TopK (`activation` topk), `transcode` (a transcoder of the input's width);
///   `skip_connection` (W_skip) is refused.
/// F32, F16, BF16 and F64 tensors are read (converted to float32).
///
///     let imported = try SAEImport.read("downloads/my-sae")
///     print(imported.summary)          // "SAELens topk (d_in 768, 24576 latents, k 32)"
public enum SAEImport {
    public struct Imported {
        public let model: Autoencoder
        /// What was read, for messages: format, architecture and sizes.
        public let summary: String
    }

    public static func read(_ directory: String) throws -> Imported {
        let cfgPath = directory + "/cfg.json"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw SAEError.badFile(directory, "does not exist: give the folder holding cfg.json and the weights")
        }
        guard isDirectory.boolValue else {
            throw SAEError.badFile(directory, "is not a directory: give the folder holding cfg.json and the weights")
        }
        let saelens = directory + "/sae_weights.safetensors", sparsify = directory + "/sae.safetensors"
        let weights = FileManager.default.fileExists(atPath: saelens) ? saelens : FileManager.default.fileExists(atPath: sparsify) ? sparsify : nil
        guard let weights else {
            throw SAEError.badFile(directory, "holds neither sae_weights.safetensors (SAELens) nor sae.safetensors (sparsify)")
        }
        let cfgData = try InputFile.contents(of: cfgPath, kind: "cfg.json")
        guard let cfg = (try? JSONSerialization.jsonObject(with: cfgData)) as? [String: Any] else {
            throw SAEError.badFile(cfgPath, "is not a JSON object")
        }
        var tensors = try Safetensors.decode(Array(try InputFile.contents(of: weights, kind: "safetensors file")), name: weights, converting: true).tensors
        let (config, summary) = weights == saelens ? try saelensConfig(cfg, &tensors, name: cfgPath)
                                                   : try sparsifyConfig(cfg, &tensors, name: cfgPath)
        let model = try Autoencoder(config: config)
        try model.setParameters(from: tensors, path: weights, allowing: [])
        return Imported(model: model, summary: summary)
    }

    // MARK: - SAELens

    private static func saelensConfig(_ cfg: [String: Any], _ t: inout [String: Safetensors.Tensor],
                                      name: String) throws -> (AutoencoderConfig, String) {
        let architecture = cfg["architecture"] as? String ?? "standard"
        let known = ["standard", "topk", "jumprelu", "gated", "transcoder", "jumprelu_transcoder"]
        guard known.contains(architecture) else {
            throw SAEError.badFile(name, "architecture \"\(architecture)\" is not one sae reads (it reads \(known.joined(separator: ", ")))")
        }
        if let normalize = cfg["normalize_activations"] as? String, normalize != "none" {
            throw SAEError.badFile(name, "normalize_activations \"\(normalize)\": sae does not rescale its inputs; only \"none\" is read")
        }
        let dIn = try integer(cfg, "d_in", name), c = try integer(cfg, "d_sae", name)
        let transcoder = architecture.hasSuffix("transcoder")
        let dOut = transcoder ? try integer(cfg, "d_out", name) : dIn
        var config = AutoencoderConfig.dictionary(inputSize: dIn, codeSize: c, unitNormDecoder: false)
        config.outputSize = transcoder ? dOut : nil
        var details = transcoder ? "d_in \(dIn) -> d_out \(dOut)" : "d_in \(dIn)"
        details += ", \(c) latents"
        // An architecture of the sparse step that SAELens saves under this name (a transcoder
        // under it + "_transcoder"); "standard" and "transcoder" are relu dictionaries, "topk" TopK.
        let base = architecture == "transcoder" ? "standard" : String(architecture.prefix { $0 != "_" })
        let sparse = Architectures.all.first { $0.architecture != .dictionary && !$0.traits.hasSharedThreshold && $0.traits.saelensArchitecture == base }
        if base == "topk" {
            let kwargs = cfg["activation_fn_kwargs"] as? [String: Any]
            guard let k = (cfg["k"] as? Int) ?? (kwargs?["k"] as? Int), k >= 1, k <= c else {
                throw SAEError.badFile(name, "a topk SAE needs k in 1...\(c) (\"k\" or activation_fn_kwargs.k)")
            }
            (config.codeActivation, config.topK) = (.topk, k)
            details += ", k \(k)"
        } else if let sparse {
            config.architecture = sparse.architecture
            sparse.imported(&config)
            t["layers.0.bias"] = try take(&t, sparse.traits.saelensEncoderBias, [c], name)
        }
        if t["layers.0.bias"] == nil { t["layers.0.bias"] = try take(&t, "b_enc", [c], name) }
        let wEnc = try take(&t, "W_enc", [dIn, c], name)
        t["layers.0.kernel"] = wEnc
        t["layers.1.kernel"] = try take(&t, "W_dec", [c, dOut], name)
        let bDec = try take(&t, "b_dec", [dOut], name)
        t["layers.1.bias"] = bDec
        if let scaling = t.removeValue(forKey: "scaling_factor"), scaling.values.contains(where: { $0 != 1 }) {
            throw SAEError.badFile(name, "has a scaling_factor other than 1 (a fine-tuned scale): sae does not read it")
        }
        // An encoder that reads x itself: b_dec W_enc into the biases, so that sae's centring gives
        // the same pre-activations.
        let centred = cfg["apply_b_dec_to_input"] as? Bool ?? true
        if transcoder && centred { throw SAEError.badFile(name, "a transcoder with apply_b_dec_to_input true (SAELens refuses it too)") }
        if !transcoder && !centred {
            var shift = [Float](repeating: 0, count: c)
            for i in 0..<dIn { for j in 0..<c { shift[j] += bDec.values[i] * wEnc.values[i * c + j] } }
            t["layers.0.bias"]!.values = zip(t["layers.0.bias"]!.values, shift).map(+)
            sparse?.foldInputShift(shift, into: &t)
            details += ", b_dec folded into the encoder bias (apply_b_dec_to_input false)"
        }
        return (config, "SAELens \(architecture) (\(details))")
    }

    // MARK: - sparsify

    private static func sparsifyConfig(_ cfg: [String: Any], _ t: inout [String: Safetensors.Tensor],
                                       name: String) throws -> (AutoencoderConfig, String) {
        let d = try integer(cfg, "d_in", name)
        if cfg["skip_connection"] as? Bool == true {
            throw SAEError.badFile(name, "skip_connection true (W_skip): sae has no skip connection")
        }
        if let activation = cfg["activation"] as? String, activation != "topk" {
            throw SAEError.badFile(name, "activation \"\(activation)\": sae reads TopK sparsify SAEs only")
        }
        let latents = (cfg["num_latents"] as? Int).flatMap { $0 > 0 ? $0 : nil }
        let c = try latents ?? d * integer(cfg, "expansion_factor", name)
        guard let k = cfg["k"] as? Int, k >= 1, k <= c else { throw SAEError.badFile(name, "needs k in 1...\(c)") }
        let transcoder = cfg["transcode"] as? Bool ?? false
        var config = AutoencoderConfig.dictionary(inputSize: d, codeSize: c, topK: k, unitNormDecoder: false)
        config.outputSize = transcoder ? d : nil
        // encoder.weight is torch's Linear (out, in): W_enc (c, d), transposed to sae's (d, c).
        let weight = try take(&t, "encoder.weight", [c, d], name)
        var wEnc = [Float](repeating: 0, count: d * c)
        for j in 0..<c { for i in 0..<d { wEnc[i * c + j] = weight.values[j * d + i] } }
        t["layers.0.kernel"] = Safetensors.Tensor(shape: [d, c], values: wEnc)
        t["layers.0.bias"] = try take(&t, "encoder.bias", [c], name)
        t["layers.1.kernel"] = try take(&t, "W_dec", [c, d], name)
        t["layers.1.bias"] = try take(&t, "b_dec", [d], name)
        return (config, "sparsify \(transcoder ? "TopK transcoder" : "TopK SAE") (d_in \(d), \(c) latents, k \(k))")
    }

    // MARK: - Helpers

    private static func integer(_ cfg: [String: Any], _ key: String, _ name: String) throws -> Int {
        guard let value = cfg[key] as? Int, value > 0 else { throw SAEError.badFile(name, "needs \"\(key)\", a positive integer") }
        return value
    }

    /// Removes and returns tensor `key`, refused unless it has `shape`.
    private static func take(_ t: inout [String: Safetensors.Tensor], _ key: String, _ shape: [Int], _ name: String) throws -> Safetensors.Tensor {
        guard let tensor = t.removeValue(forKey: key) else { throw SAEError.badFile(name, "its weights lack the tensor \"\(key)\"") }
        guard tensor.shape == shape else {
            throw SAEError.badFile(name, "tensor \"\(key)\" has shape \(tensor.shape), but cfg.json's sizes need \(shape)")
        }
        return tensor
    }
}
