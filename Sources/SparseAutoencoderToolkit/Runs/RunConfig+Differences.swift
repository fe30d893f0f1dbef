import Foundation
import SparseAutoencoder

extension RunConfig {
    /// The settings in which `other` differs from this config, as `key: this -> other` with the
    /// keys config.json uses (e.g. `training.epochs: 30 -> 5`); empty when they would train the
    /// same run. Where Fashion-MNIST was found (`data.directory`) does not count, nor the
    /// normalisation's factors (measured from the data when training starts).
    package func differences(from other: RunConfig) -> [String] {
        func flat(_ config: RunConfig) -> [String: String] {
            var config = config
            (config.data.directory, config.data.inputScale, config.data.targetScale) = (nil, nil, nil)
            guard let data = try? JSONFile.encode(config), let object = try? JSONSerialization.jsonObject(with: data) else { return [:] }
            var out: [String: String] = [:]
            func walk(_ value: Any, _ key: String) {
                if let dictionary = value as? [String: Any] {
                    for (k, v) in dictionary { walk(v, key.isEmpty ? k : key + "." + k) }
                } else if let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
                    out[key] = String(decoding: data, as: UTF8.self)
                }
            }
            walk(object, "")
            return out
        }
        let (mine, theirs) = (flat(self), flat(other))
        return Set(mine.keys).union(theirs.keys).sorted().compactMap { key in
            mine[key] == theirs[key] ? nil : "\(key): \(mine[key] ?? "none") -> \(theirs[key] ?? "none")"
        }
    }
}
