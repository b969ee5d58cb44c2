//! The training loop: batches, the GenKSC objective, Adam for the networks, Cayley ADAM for
//! `U`, per-epoch evaluation, atomic checkpoints and resuming.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::cayley::{self, CayleyAdam};
use crate::checkpoint::{self, Checkpoint, CheckpointMeta};
use crate::config::{Backend, ConfigOverrides, TrainConfig};
use crate::data::{self, Dataset, Split};
use crate::evaluate::{self, Evaluation, TestMetrics};
use crate::ksc::{self, LossTerms};
use crate::model::AutoEncoder;
use crate::rng::SplitMix64;
use crate::{kmeans, linalg};

/// File names inside a run folder.
pub const CONFIG_FILE: &str = "config.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
pub const SUMMARY_FILE: &str = "summary.json";

/// Batch-averaged loss terms of one epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochLosses {
    pub total: f64,
    pub variance: f64,
    pub regularization: f64,
    pub reconstruction: f64,
    pub cluster: f64,
    /// Unweighted balance term (0 in runs written before it existed).
    #[serde(default)]
    pub balance: f64,
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub cluster_loss_on: bool,
    pub losses: EpochLosses,
    pub test: TestMetrics,
    pub train_images_per_second: f64,
    pub orthonormality_error: f64,
    /// Batch degrees clamped to the floor during the epoch.
    pub degrees_clamped: usize,
    pub seconds: f64,
}

/// Contents of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub preset: String,
    pub epochs: usize,
    pub seed: u64,
    pub train_images: usize,
    pub test_images: usize,
    pub test: TestMetrics,
    pub train_images_per_second: f64,
    pub orthonormality_error: f64,
    pub wall_seconds: f64,
}

/// Returns the device of a backend, with autodiff enabled.
pub fn training_device(backend: Backend) -> Result<Device> {
    let device = match backend {
        Backend::Flex => Device::flex(),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Device::wgpu(Default::default()),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => bail!(
            "--backend wgpu needs a build with the wgpu feature: \
             cargo run --release -p host --features wgpu -- train --backend wgpu"
        ),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Device::cuda(0),
        #[cfg(not(feature = "cuda"))]
        Backend::Cuda => bail!(
            "--backend cuda needs a build with the cuda feature: \
             cargo run --release -p host --features cuda -- train --backend cuda"
        ),
    };
    Ok(device.autodiff())
}

/// State of a run between two steps.
struct Trainer {
    config: TrainConfig,
    device: Device,
    model: AutoEncoder,
    optimizer: ModuleOptimizer,
    /// Projection `U`, `[d_f, s]`, on the inner (non-autodiff) device.
    projection: Tensor<2>,
    cayley: CayleyAdam,
    codes: Tensor<2>,
    /// Weighted mean of the training features, `[d_f]`, from the last evaluation.
    mean: Vec<f32>,
    shuffle: SplitMix64,
    epoch: usize,
}

impl Trainer {
    fn new(config: TrainConfig, device: Device) -> Self {
        device.seed(config.seed);
        let model = AutoEncoder::new(config.architecture, config.feature_size, &device);
        let inner = device.clone().inner();
        let projection =
            cayley::random_orthonormal(config.feature_size, config.latent_size, &inner);
        let cayley = CayleyAdam::new(
            config.cayley,
            [config.feature_size, config.latent_size],
            &inner,
        );
        Self {
            codes: ksc::simplex_code_tensor(config.clusters, &device),
            optimizer: AdamConfig::new().init(),
            shuffle: SplitMix64::new(config.seed),
            mean: vec![0.0; config.feature_size],
            epoch: 0,
            config,
            device,
            model,
            projection,
            cayley,
        }
    }

    fn restore(checkpoint: Checkpoint, device: Device) -> Result<Self> {
        let mut trainer = Self::new(checkpoint.meta.config.clone(), device);
        let meta = checkpoint.meta;
        trainer.model = trainer.model.load_record(checkpoint.model);
        trainer.optimizer = trainer
            .optimizer
            .from_bytes(checkpoint.optimizer)
            .map_err(|error| anyhow::anyhow!("invalid optimizer state in checkpoint: {error}"))?;
        let inner = trainer.device.clone().inner();
        trainer.projection = Tensor::from_data(
            TensorData::new(
                meta.projection,
                [meta.config.feature_size, meta.config.latent_size],
            ),
            &inner,
        );
        trainer.cayley = CayleyAdam::from_state(&meta.cayley, &inner);
        trainer.mean = meta.mean;
        trainer.shuffle = SplitMix64::from_state(meta.shuffle_state);
        trainer.epoch = meta.epoch;
        Ok(trainer)
    }

    /// Trains one epoch and returns the averaged loss terms and the clamped degree count.
    fn train_epoch(
        &mut self,
        train: &Dataset,
        progress: &ProgressBar,
    ) -> Result<(EpochLosses, usize)> {
        let config = &self.config;
        let cluster_on = self.epoch >= config.warmup_epochs;
        let factor = config.learning_rate_factor(self.epoch);
        let learning_rate = config.learning_rate * factor;
        self.cayley
            .set_learning_rate(config.cayley.learning_rate * factor);
        let mut order: Vec<usize> = (0..train.len()).collect();
        self.shuffle.shuffle(&mut order);

        let mut sums = EpochLosses::default();
        let mut batches = 0usize;
        let mut clamped_total = 0usize;
        for (step, chunk) in order.chunks(config.batch_size).enumerate() {
            if chunk.len() < 2 {
                continue;
            }
            let images = evaluate::image_batch(train, chunk, &self.device);
            let (values, clamped) =
                self.step(images, cluster_on, learning_rate)
                    .with_context(|| {
                        format!(
                            "training stopped at epoch {} step {}",
                            self.epoch + 1,
                            step + 1
                        )
                    })?;

            sums.total += values[0];
            sums.variance += values[1];
            sums.regularization += values[2];
            sums.reconstruction += values[3];
            sums.cluster += values[4];
            sums.balance += values[5];
            batches += 1;
            clamped_total += clamped;
            progress.inc(chunk.len() as u64);
            progress.set_message(format!(
                "loss {:.4} var {:.4} reg {:.4} rec {:.4} cl {:.4}",
                values[0], values[1], values[2], values[3], values[4]
            ));
        }

        let count = batches.max(1) as f64;
        let averages = EpochLosses {
            total: sums.total / count,
            variance: sums.variance / count,
            regularization: sums.regularization / count,
            reconstruction: sums.reconstruction / count,
            cluster: sums.cluster / count,
            balance: sums.balance / count,
        };
        Ok((averages, clamped_total))
    }

    /// Takes one optimisation step on a batch `[n, 1, 28, 28]` and returns the loss values
    /// (total, variance, regularisation, reconstruction, cluster, balance) and the clamped
    /// degree count.
    fn step(
        &mut self,
        images: Tensor<4>,
        cluster_on: bool,
        learning_rate: f64,
    ) -> Result<([f64; 6], usize)> {
        let config = &self.config;
        let k = config.clusters;
        let features = self.model.encoder.forward(images.clone());
        let (degrees, clamped) = ksc::degrees(features.clone(), config.degree_floor);
        let mean = ksc::weighted_mean(features.clone(), degrees.clone());
        let centered = features.clone().sub(mean);

        let projection = self.projection.clone().autodiff().require_grad();
        // [n, d_f] x [d_f, s] -> [n, s]
        let scores = centered.matmul(projection.clone());
        // [n, s] x [s, d_f] -> [n, d_f] -> [n, 1, 28, 28]
        let reconstructed = self
            .model
            .decoder
            .forward(scores.clone().matmul(projection.clone().transpose()));
        let [n, _] = scores.dims();
        let cluster_scores = scores.clone().slice([0..n, 0..k - 1]);

        let terms = LossTerms {
            variance: ksc::variance_term(scores, degrees),
            regularization: ksc::regularization_term(features),
            reconstruction: ksc::reconstruction_term(images, reconstructed),
            cluster: ksc::cluster_term(cluster_scores.clone(), self.codes.clone()),
            balance: ksc::balance_term(cluster_scores),
        };
        let loss = terms.total(&config.weights, cluster_on);
        let values = [
            scalar(&loss),
            scalar(&terms.variance),
            scalar(&terms.regularization),
            scalar(&terms.reconstruction),
            scalar(&terms.cluster),
            scalar(&terms.balance),
        ];
        if let Some(bad) = values.iter().find(|value| !value.is_finite()) {
            bail!(
                "the loss became {bad}; the checkpoint of the last finished epoch is kept. \
                 Lower --learning-rate or --u-learning-rate, or change --seed, then run again"
            );
        }

        let mut gradients = loss.backward();
        let projection_gradient = projection
            .grad_remove(&mut gradients)
            .context("the loss does not depend on the projection U")?;
        let gradients = GradientsParams::from_grads(gradients, &self.model);
        let model = self.model.clone();
        self.model = self.optimizer.step(learning_rate, model, gradients);
        self.projection = self
            .cayley
            .step(self.projection.clone(), projection_gradient);

        Ok((values, clamped))
    }
}

/// Reads the loss value of a one-element tensor.
fn scalar(tensor: &Tensor<1>) -> f64 {
    tensor.clone().into_scalar::<f32>() as f64
}

/// Options of one call to [`run`] that are not part of the run's identity.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    /// Show a progress bar (hidden anyway when stderr is not a terminal).
    pub progress: bool,
    /// Whether a fresh run may replace a run that already has a checkpoint in `out_dir`.
    pub overwrite: bool,
}

/// Starting point of [`run`].
#[derive(Clone, Debug)]
pub enum Start {
    /// A new run with this configuration. An older run in the same folder is replaced only
    /// with [`RunOptions::overwrite`].
    Fresh(TrainConfig),
    /// Continue the run in the folder from its checkpoint, with these settings changed (more
    /// epochs, a lower learning rate after a failure, another data folder or backend).
    Resume(ConfigOverrides),
}

/// Trains and writes the run folder; returns the summary.
pub fn run(start: Start, options: &RunOptions) -> Result<Summary> {
    let started = Instant::now();
    let out_dir = &options.out_dir;
    let checkpoint_path = out_dir.join(CHECKPOINT_FILE);

    // Settings, the old run and the data are checked before anything in the folder changes.
    let fresh = matches!(start, Start::Fresh(_));
    let mut trainer = match start {
        Start::Fresh(config) => {
            config.validate().map_err(anyhow::Error::msg)?;
            if checkpoint_path.exists() && !options.overwrite {
                bail!(
                    "{} already contains a run; continue it with --resume, replace it with \
                     --overwrite, or choose another --out folder",
                    out_dir.display()
                );
            }
            let device = training_device(config.backend)?;
            Trainer::new(config, device)
        }
        Start::Resume(overrides) => resume(&checkpoint_path, &overrides)?,
    };
    let config = trainer.config.clone();
    let train = load(&config, Split::Train)?;
    let test = load(&config, Split::Test)?;
    anyhow::ensure!(
        train.len() >= 2,
        "the training set has {} image; the degrees need at least 2 images per batch, so \
         raise --train-limit",
        train.len()
    );

    fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create the run folder {}", out_dir.display()))?;
    if fresh {
        for stale in [METRICS_FILE, CHECKPOINT_FILE, SUMMARY_FILE] {
            fs::remove_file(out_dir.join(stale)).or_else(ignore_missing)?;
        }
    }
    write_json(&out_dir.join(CONFIG_FILE), &config)?;
    log::info!(
        "training {} on {} images, testing on {} images, {} epochs, batch {}",
        config.preset,
        train.len(),
        test.len(),
        config.epochs,
        config.batch_size
    );

    let mut last: Option<EpochRecord> = None;
    let mut images_per_second_sum = 0.0;
    let mut timed_epochs = 0usize;
    while trainer.epoch < config.epochs {
        let progress = progress_bar(
            options.progress,
            train.len(),
            trainer.epoch + 1,
            config.epochs,
        );
        let epoch_started = Instant::now();
        let (losses, degrees_clamped) = trainer.train_epoch(&train, &progress)?;
        let train_seconds = epoch_started.elapsed().as_secs_f64();
        progress.finish_and_clear();

        let valid = trainer.model.valid();
        let inner = trainer.device.clone().inner();
        let features = evaluate::features(&valid.encoder, &train, &inner);
        let (mean, inverse_degrees) =
            evaluate::weighted_statistics(&features, config.feature_size, config.degree_floor);
        trainer.mean = mean;
        if trainer.epoch < config.warmup_epochs {
            trainer.align_projection(&features, &inverse_degrees);
        }
        if config.kmeans_init && trainer.epoch + 1 == config.warmup_epochs {
            trainer.align_clusters(&features);
        }
        drop(features);
        let evaluation = evaluate::evaluate(
            &valid.encoder,
            &trainer.projection,
            &trainer.mean,
            &test,
            &config,
            &inner,
        );
        trainer.epoch += 1;

        let record = EpochRecord {
            epoch: trainer.epoch,
            cluster_loss_on: trainer.epoch > config.warmup_epochs,
            losses,
            test: evaluation.metrics.clone(),
            train_images_per_second: train.len() as f64 / train_seconds,
            orthonormality_error: cayley::orthonormality_error(trainer.projection.clone()),
            degrees_clamped,
            seconds: epoch_started.elapsed().as_secs_f64(),
        };
        log_epoch(&record, config.epochs);
        if degrees_clamped > 0 {
            log::warn!(
                "epoch {}: {degrees_clamped} batch degrees were below {} of their batch's mean \
                 absolute degree and were clamped (--degree-floor)",
                record.epoch,
                config.degree_floor
            );
        }
        images_per_second_sum += record.train_images_per_second;
        timed_epochs += 1;

        trainer.check_finite()?;
        // The metrics line goes first: a run killed between the two writes resumes from the
        // previous checkpoint, and resuming drops metrics lines past the checkpoint's epoch.
        append_json_line(&out_dir.join(METRICS_FILE), &record)?;
        checkpoint::save(
            &checkpoint_path,
            &trainer.checkpoint_meta(),
            &trainer.model,
            &trainer.optimizer,
        )?;
        last = Some(record);
    }

    let last = match last {
        Some(record) => record,
        None => {
            // A resumed run that had already finished: evaluate the stored model once more.
            let valid = trainer.model.valid();
            let inner = trainer.device.clone().inner();
            let evaluation: Evaluation = evaluate::evaluate(
                &valid.encoder,
                &trainer.projection,
                &trainer.mean,
                &test,
                &config,
                &inner,
            );
            EpochRecord {
                epoch: trainer.epoch,
                cluster_loss_on: trainer.epoch > config.warmup_epochs,
                losses: EpochLosses::default(),
                test: evaluation.metrics,
                train_images_per_second: 0.0,
                orthonormality_error: cayley::orthonormality_error(trainer.projection.clone()),
                degrees_clamped: 0,
                seconds: 0.0,
            }
        }
    };

    let summary = Summary {
        preset: config.preset.name().to_string(),
        epochs: trainer.epoch,
        seed: config.seed,
        train_images: train.len(),
        test_images: test.len(),
        test: last.test,
        train_images_per_second: images_per_second_sum / timed_epochs.max(1) as f64,
        orthonormality_error: last.orthonormality_error,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    write_json(&out_dir.join(SUMMARY_FILE), &summary)?;
    Ok(summary)
}

/// Restores a trainer from `path` and applies `overrides` to its stored configuration.
fn resume(path: &Path, overrides: &ConfigOverrides) -> Result<Trainer> {
    let out_dir = path.parent().unwrap_or(Path::new("."));
    let mut checkpoint = checkpoint::load(path).with_context(|| {
        format!(
            "cannot resume from {}; start a new run without --resume, or pick the run folder \
             with --out",
            path.display()
        )
    })?;
    let stored = checkpoint.meta.config.clone();
    let trained = checkpoint.meta.epoch;
    if let Some(epochs) = overrides.epochs.filter(|epochs| *epochs < trained) {
        bail!(
            "--epochs {epochs} is below the {trained} epochs the run in {} has finished; give \
             at least {trained}",
            out_dir.display()
        );
    }
    if let Some(seed) = overrides.seed.filter(|seed| *seed != stored.seed) {
        bail!(
            "--seed {seed} differs from the seed {} of the run in {}; a resumed run keeps its \
             seed, so drop --seed or start a new run in another --out folder",
            stored.seed,
            out_dir.display()
        );
    }
    let mut config = stored;
    overrides.apply(&mut config);
    config.validate().map_err(anyhow::Error::msg)?;
    checkpoint.meta.config = config;

    let device = training_device(checkpoint.meta.config.backend)?;
    let trainer = Trainer::restore(checkpoint, device)?;
    truncate_metrics(&out_dir.join(METRICS_FILE), trainer.epoch)?;
    log::info!(
        "resuming {} in {} after epoch {} of {}",
        trainer.config.preset,
        out_dir.display(),
        trainer.epoch,
        trainer.config.epochs
    );
    Ok(trainer)
}

impl Trainer {
    /// Rotates `U` within its span so that its columns follow the weighted principal
    /// directions of the training scores (see [`evaluate::principal_rotation`]).
    fn align_projection(&mut self, features: &[f32], inverse_degrees: &[f64]) {
        let s = self.config.latent_size;
        let projection = self
            .projection
            .to_data()
            .try_to_vec::<f32>()
            .expect("projection is f32");
        let rotation =
            evaluate::principal_rotation(features, &self.mean, &projection, s, inverse_degrees);
        let rotation: Vec<f32> = rotation.iter().map(|value| *value as f32).collect();
        let inner = self.device.clone().inner();
        let rotation = Tensor::<2>::from_data(TensorData::new(rotation, [s, s]), &inner);
        self.projection = self.projection.clone().matmul(rotation.clone());
        self.cayley.rotate(rotation);
    }

    /// Rotates `U` within its span so that the k-means centroids of the training scores point
    /// along the cluster codes in the first `k - 1` dimensions, before the cluster loss starts.
    fn align_clusters(&mut self, features: &[f32]) {
        let config = &self.config;
        let (k, s) = (config.clusters, config.latent_size);
        let projection = self
            .projection
            .to_data()
            .try_to_vec::<f32>()
            .expect("projection is f32");
        let scores = evaluate::project(features, &self.mean, &projection, s);
        let mut rng = SplitMix64::new(config.seed ^ 0x6b6d_6561_6e73);
        let clusters = kmeans::kmeans(&scores, s, k, 10, 100, &mut rng);
        let codes: Vec<f64> = ksc::simplex_codes(k)
            .into_iter()
            .flatten()
            .map(|value| value as f64)
            .collect();
        let Some(rotation) = linalg::procrustes_rotation(&clusters.centroids, &codes, k, s) else {
            log::warn!("k-means centroids of the scores are degenerate; U is left as it is");
            return;
        };
        log::info!("cluster directions set from k-means on the training scores");
        let rotation: Vec<f32> = rotation.iter().map(|value| *value as f32).collect();
        let inner = self.device.clone().inner();
        let rotation = Tensor::<2>::from_data(TensorData::new(rotation, [s, s]), &inner);
        self.projection = self.projection.clone().matmul(rotation.clone());
        self.cayley.rotate(rotation);
    }

    /// Fails when `U` or the weighted mean is no longer finite, so that such a state never
    /// replaces the last good checkpoint. The loss can stay finite while they overflow, for
    /// example when clamped degrees give a few samples enormous weights.
    fn check_finite(&self) -> Result<()> {
        let projection = self
            .projection
            .to_data()
            .try_to_vec::<f32>()
            .expect("projection is f32");
        let finite = |values: &[f32]| values.iter().all(|value| value.is_finite());
        if !finite(&projection) || !finite(&self.mean) {
            bail!(
                "U or the weighted mean of the features is no longer finite after epoch {}; the \
                 checkpoint of the last finished epoch is kept. Raise --degree-floor or lower \
                 --learning-rate, then resume",
                self.epoch
            );
        }
        Ok(())
    }

    fn checkpoint_meta(&self) -> CheckpointMeta {
        CheckpointMeta {
            config: self.config.clone(),
            epoch: self.epoch,
            projection: self
                .projection
                .to_data()
                .try_to_vec::<f32>()
                .expect("projection is f32"),
            cayley: self.cayley.state(),
            mean: self.mean.clone(),
            shuffle_state: self.shuffle.state(),
        }
    }
}

fn load(config: &TrainConfig, split: Split) -> Result<Dataset> {
    let dataset = data::load_split(&config.data_dir, config.preset, split)?;
    let limit = match split {
        Split::Train => config.train_limit,
        Split::Test => config.test_limit,
    };
    Ok(match limit {
        Some(count) if count < dataset.len() => dataset.take_first(count),
        _ => dataset,
    })
}

fn progress_bar(enabled: bool, images: usize, epoch: usize, epochs: usize) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(images as u64);
    let style = ProgressStyle::with_template(
        "epoch {prefix} [{bar:30}] {pos}/{len} images {per_sec} {msg}",
    )
    .expect("progress template is valid")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

fn log_epoch(record: &EpochRecord, epochs: usize) {
    let test = &record.test;
    log::info!(
        "epoch {}/{}: loss {:.4} (rec {:.3}, cl {:.4}{}) test acc {:.4} nmi {:.4} ari {:.4} \
         ams {:.4} balance {:.3}, {:.0} images/s",
        record.epoch,
        epochs,
        record.losses.total,
        record.losses.reconstruction,
        record.losses.cluster,
        if record.cluster_loss_on { "" } else { ", off" },
        test.acc,
        test.nmi,
        test.ari,
        test.ams,
        test.balance,
        record.train_images_per_second
    );
}

/// Writes `value` as pretty JSON through a temporary file and a rename.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    checkpoint::write_atomically(path, text.as_bytes())
}

fn append_json_line<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut line = serde_json::to_string(value)?;
    line.push('\n');
    file.write_all(line.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Keeps the lines of `metrics.jsonl` up to and including `epoch`, so a resumed run continues
/// the file where its checkpoint left off.
fn truncate_metrics(path: &Path, epoch: usize) -> Result<()> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut kept = String::new();
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let Ok(record) = serde_json::from_str::<EpochRecord>(&line) else {
            continue;
        };
        if record.epoch <= epoch {
            kept.push_str(&line);
            kept.push('\n');
        }
    }
    checkpoint::write_atomically(path, kept.as_bytes())
}

fn ignore_missing(error: std::io::Error) -> std::io::Result<()> {
    if error.kind() == std::io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(error)
    }
}
