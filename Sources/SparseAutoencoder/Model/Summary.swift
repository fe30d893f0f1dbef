/// A Keras-style summary of the model: each layer's name, output shape and parameter count.
///
///     print(model.summary)
extension AutoencoderConfig {
    public var summary: String {
        let shapes = layerShapes
        var rows: [(String, String, String)] = [("input (InputLayer)", "(None, \(inputSize))", "0")]
        for (i, s) in shapes.enumerated() {
            let role: String
            if i < codeLayerIndex { role = "encoder_\(i)" }
            else if i == codeLayerIndex { role = "code" }
            else if i == shapes.count - 1 { role = "output" }
            else { role = "decoder_\(i - codeLayerIndex - 1)" }
            let activation = i == shapes.count - 1 ? (hasLinearOutput ? "linear" : "sigmoid")
                : s.activation == .topk ? "topk, k=\(topK ?? s.outputSize)"
                : i == codeLayerIndex && architecture.takesK ? "\(architecture.rawValue), k=\(topK ?? s.outputSize)"
                : i == codeLayerIndex && architecture.selectsItsCode ? architecture.rawValue : s.activation.rawValue
            rows.append(("\(role) (Dense, \(activation))", "(None, \(s.outputSize))",
                         String(s.inputSize * s.outputSize + s.outputSize)))
        }
        let trainable = shapes.reduce(0) { $0 + $1.inputSize * $1.outputSize + $1.outputSize }
        // The code selection's state (BatchTopK's threshold) is kept with the weights, not trained.
        let tensors = Architectures.tensors(for: self)
        let learned = tensors.filter(\.trainable).reduce(0) { $0 + $1.shape.reduce(1, *) }
        let state = tensors.filter { !$0.trainable }.reduce(0) { $0 + $1.shape.reduce(1, *) }
        let total = trainable + learned + state
        let widths = [max(28, rows.map(\.0.count).max()! + 2), 18, 12]
        func line(_ a: String, _ b: String, _ c: String) -> String {
            a.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                + b.padding(toLength: widths[1], withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(0, widths[2] - c.count)) + c
        }
        let rule = String(repeating: "─", count: widths.reduce(0, +))
        let options = (unitNormDecoder ? ", unit-norm decoder" : "") + (auxK.map { ", AuxK k_aux=\($0.k)" } ?? "")
        let centring = isTranscoder ? "input read as it is, output \(targetSize) features" : "input centred by b_dec"
        let name = architecture.selectsItsCode ? "\(architecture.rawValue) \(isTranscoder ? "transcoder" : "SAE")\" (\(centring)"
            : isDictionary ? "\(codeActivation == .topk ? "topk" : "standard") \(isTranscoder ? "transcoder" : "SAE")\" (\(centring)" : "autoencoder\" ("
        var out = ["Model: \"\(name)\(isDictionary ? ", " : "")penalty: \(penaltyDescription), loss: \(loss.rawValue)\(options))", rule,
                   line("Layer (type)", "Output Shape", "Param #"), rule]
        out += rows.map { line($0.0, $0.1, $0.2) }
        out += [rule, " Total params: \(total) (\(Self.formatBytes(total * 4)))",
                " Trainable params: \(trainable + learned)", " Non-trainable params: \(state)"]
        return out.joined(separator: "\n")
    }

    /// What the model is, for banners: "a topk SAE (4096 latents, k 32, auxk 256)", "a jumprelu
    /// transcoder (512 -> 768 features, 4096 latents, L0 ...)", or for the tutorial's models their
    /// penalty and selection ("l1 (lambda 1e-05)", "topk (k 8, auxk 32)", "no penalty").
    public var kindText: String {
        guard isDictionary else {
            var parts = penalty == .none ? [] : [penalty.summaryText]
            if codeActivation == .topk, let k = topK {
                parts.append("topk (k \(k)" + (auxK.map { ", auxk \($0.k)" } ?? "") + ")")
            }
            return parts.isEmpty ? "no penalty" : parts.joined(separator: " + ")
        }
        let name = architectureName
        var details = isTranscoder ? ["\(inputSize) -> \(targetSize) features"] : []
        details.append("\(codeSize) latents")
        if let k = topK { details.append("k \(k)") }
        if let auxK { details.append("auxk \(auxK.k)") }
        details += Architectures.type(for: self)?.summaryDetails(self) ?? []
        if hasSparsityPenalty { details.append(penaltyDescription) }
        return "a \(name) \(isTranscoder ? "transcoder" : "SAE") (\(details.joined(separator: ", ")))"
    }

    /// The default name of a run of this model (its directory under runs/): the architecture
    /// ("topk", "batchtopk", "jumprelu", "standard", ...; "-transcoder" added for one), or for
    /// the tutorial's models their penalty ("l1", "kl"; "topk" or "none" without one).
    public var runName: String {
        guard isDictionary else {
            switch penalty {
            case .l1: return "l1"
            case .kl: return "kl"
            case .none: return codeActivation == .topk ? "topk" : "none"
            }
        }
        let name = architectureName
        return name + (isTranscoder ? "-transcoder" : "")
    }

    /// The penalty's description: JumpReLU's L0 penalty, else the activity penalty's.
    public var penaltyDescription: String {
        Architectures.type(for: self)?.objectiveText(self) ?? penalty.summaryText
    }

    private static func formatBytes(_ n: Int) -> String {
        n >= 1 << 20 ? "\((Double(n) / 1048576 * 100).rounded() / 100) MB" : "\((Double(n) / 1024 * 100).rounded() / 100) KB"
    }
}

extension ActivityPenalty {
    /// "l1 (lambda 1e-05)", "kl (rho 0.05, beta 3.0)" or "none".
    public var summaryText: String {
        switch self {
        case .none: "none"
        case .l1(let lambda): "l1 (lambda \(lambda))"
        case .kl(let rho, let beta): "kl (rho \(rho), beta \(beta))"
        }
    }
}

extension Autoencoder {
    public var summary: String { config.summary }
}
