import Foundation
import SparseAutoencoder

extension RunData {
    /// Collective: refuses, before anything is trained or written, ranks whose inputs differ:
    /// another number of vectors or width (a rank that sees other shards), other contents
    /// (sampled rows), or other settings. Every rank throws the same `DistributedStop`, which
    /// rank 0 reports.
    package func checkSameOnEveryRank(_ communicator: Communicator, config: RunConfig) throws {
        guard communicator.isDistributed else { return }
        let settings = (try? JSONFile.encode(config)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        let mine = [Double(train.count), Double(train.featureCount), Double(test.count), Double(test.featureCount),
                    Self.fingerprint(train), Self.fingerprint(test), Double(Communicator.fingerprint(settings))]
        let all = try communicator.gather(mine)
        func differing(_ i: Int) -> Int? { all.indices.first { all[$0][i].bitPattern != all[0][i].bitPattern } }
        func shape(_ r: Int, _ count: Int) -> String { "\(Int(all[r][count])) vectors of width \(Int(all[r][count + 1]))" }
        var problem: String?
        for (set, count) in [("training", 0), ("validation", 2)] {
            guard problem == nil else { break }
            if let r = differing(count) ?? differing(count + 1) {
                problem = "the ranks' \(set) data differ: rank 0 has \(shape(0, count)), rank \(r) has \(shape(r, count))"
            } else if let r = differing(4 + count / 2) {
                problem = "the ranks' \(set) data differ: rank \(r) reads other values than rank 0 in the same rows"
            }
        }
        if problem == nil, let r = differing(6) {
            problem = "rank \(r) was given other settings than rank 0: launch every rank with the same arguments"
        }
        guard let problem else { return }
        throw DistributedStop(message: problem + " (every rank must read the same files, e.g. from a shared filesystem); nothing was trained",
                              reportsHere: communicator.isRoot)
    }

    /// A number that changes with the values of 16 rows spread over the set.
    static func fingerprint(_ data: Dataset) -> Double {
        guard data.count > 0 else { return 0 }
        var total = 0.0
        for k in 0..<16 {
            let row = (data.count - 1) * k / 15
            for (j, v) in data.floats(row..<(row + 1)).enumerated() { total += Double(v) * Double(k * 31 + j % 97 + 1) }
        }
        return total
    }
}
