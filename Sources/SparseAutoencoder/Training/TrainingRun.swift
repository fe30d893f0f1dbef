/// The whole job behind `sae train`: build the model a `RunConfig` describes, train it with
/// validation on the test set, evaluate it, and write the run directory.
///
/// The config is written first (so a run directory always says what it is); the weights,
/// history and metrics are written, each atomically, once training has finished.
public enum TrainingRun {
    @discardableResult
    public static func run(_ config: RunConfig, train: ImageSet, test: ImageSet, into directory: RunDirectory,
                           progress: (TrainingEvent) -> Void = { _ in }) throws -> RunMetrics {
        let train = config.data.trainLimit.map { train.prefix($0) } ?? train
        let model = try Autoencoder(config: config.model, seed: config.training.seed)
        let trainer = try Trainer(model: model, settings: config.training)
        try directory.save(config: config)
        let history = try trainer.fit(train, validation: test, progress: progress)
        let metrics = RunMetrics(history: history, test: model.evaluate(test, batchSize: config.training.batchSize))
        try model.save(to: directory.modelPath)
        try directory.save(history: history)
        try directory.save(metrics: metrics)
        return metrics
    }
}
