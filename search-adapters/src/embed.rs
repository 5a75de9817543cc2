//! Embedder port and the offline ONNX adapter (all-MiniLM-L6-v2, int8, 384-d, Apache-2.0).
//!
//! ONNX Runtime is loaded from a shared library at start (no download at build or run time). A
//! session runs one batch at a time, so the adapter keeps one session per core and splits large
//! batches across them.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::{Result, SearchError};

pub mod distilled;

#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// Model id, part of every cached embedding's key.
    fn model(&self) -> &str;
    /// Unit-length vectors, one per text, in order.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>>;
}

#[derive(Debug, Clone)]
pub struct OnnxConfig {
    /// Directory with `model.onnx`, `tokenizer.json` and `libonnxruntime.so`.
    pub model_dir: PathBuf,
    /// Sessions run in parallel (one per core is best).
    pub sessions: usize,
    /// Texts per model call.
    pub batch: usize,
    /// Tokens read per text (the model's limit is 256; the cost grows faster than linearly).
    pub max_tokens: usize,
}

pub struct OnnxEmbedder {
    inner: Arc<Inner>,
    batch: usize,
    max_tokens: usize,
    /// Model and truncation: texts embedded under another setting differ.
    id: String,
}

pub(crate) struct Inner {
    sessions: Vec<Mutex<Session>>,
    tokenizer: Tokenizer,
    has_type_ids: bool,
}

fn merr(e: impl std::fmt::Display) -> SearchError {
    SearchError::Model(e.to_string())
}

/// ONNX Runtime's environment may be built once per process.
static ENV: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

fn environment(dylib: &Path) -> Result<Environment> {
    ENV.get_or_init(|| {
        let builder =
            ort::init_from(dylib).map_err(|e| format!("loading {}: {e}", dylib.display()))?;
        builder
            .with_name("mediagw-embed")
            .with_telemetry(false)
            .build()
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(SearchError::Model)
}

fn session(env: &Environment, model: &Path) -> ort::Result<Session> {
    Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(1)?
        .with_inter_threads(1)?
        .commit_from_file(model)
}

impl OnnxEmbedder {
    pub fn load(cfg: &OnnxConfig) -> Result<Self> {
        let dir = &cfg.model_dir;
        let env = environment(&dir.join("libonnxruntime.so"))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| merr(format!("{}: {e}", dir.join("tokenizer.json").display())))?;
        let pad = tokenizer.get_padding().cloned().unwrap_or_default();
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..pad
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: cfg.max_tokens.clamp(8, 256),
                ..Default::default()
            }))
            .map_err(merr)?;
        let mut sessions = Vec::new();
        for _ in 0..cfg.sessions.max(1) {
            sessions.push(Mutex::new(session(&env, &dir.join("model.onnx")).map_err(
                |e| merr(format!("{}: {e}", dir.join("model.onnx").display())),
            )?));
        }
        let has_type_ids = sessions[0]
            .lock()
            .expect("session")
            .inputs()
            .iter()
            .any(|i| i.name() == "token_type_ids");
        Ok(Self {
            inner: Arc::new(Inner {
                sessions,
                tokenizer,
                has_type_ids,
            }),
            batch: cfg.batch.max(1),
            max_tokens: cfg.max_tokens.clamp(8, 256),
            id: format!("all-MiniLM-L6-v2-int8/{}", cfg.max_tokens.clamp(8, 256)),
        })
    }
}

impl Inner {
    /// Runs one batch on session `slot`: mean pooling over the attention mask, then L2 norm.
    fn run(&self, slot: usize, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encs = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(merr)?;
        let (b, s) = (encs.len(), encs.first().map_or(0, |e| e.len()));
        if b == 0 || s == 0 {
            return Ok(vec![vec![0.0; crate::index::DIM]; b]);
        }
        let mut batch = Batch::with_capacity(b, s);
        for e in &encs {
            batch.push(e.get_ids(), e.get_attention_mask(), e.get_type_ids());
        }
        let mut out = self.pooled(slot, batch)?;
        out.iter_mut().for_each(|v| normalize(v));
        Ok(out)
    }

    /// Mean-pooled (not normalised) outputs of an already tokenised, padded batch.
    fn pooled(&self, slot: usize, batch: Batch) -> Result<Vec<Vec<f32>>> {
        let (s, mask) = (batch.len, batch.mask.clone());
        let hidden = self.hidden(slot, batch)?;
        let h = crate::index::DIM;
        Ok(hidden
            .iter()
            .enumerate()
            .map(|(i, rows)| {
                let mut v = vec![0f32; h];
                let mut n = 0f32;
                for j in 0..s {
                    if mask[i * s + j] == 0 {
                        continue;
                    }
                    n += 1.0;
                    v.iter_mut()
                        .zip(&rows[j * h..(j + 1) * h])
                        .for_each(|(a, x)| *a += x);
                }
                let n = n.max(1e-9);
                v.iter_mut().for_each(|x| *x /= n);
                v
            })
            .collect())
    }

    /// The model's last hidden state per row: `len × DIM` floats, position by position.
    fn hidden(&self, slot: usize, batch: Batch) -> Result<Vec<Vec<f32>>> {
        let (b, s) = (batch.rows, batch.len);
        let mut inputs: Vec<(Cow<'static, str>, SessionInputValue<'static>)> = vec![
            (
                "input_ids".into(),
                Tensor::from_array(([b, s], batch.ids))
                    .map_err(merr)?
                    .into(),
            ),
            (
                "attention_mask".into(),
                Tensor::from_array(([b, s], batch.mask))
                    .map_err(merr)?
                    .into(),
            ),
        ];
        if self.has_type_ids {
            inputs.push((
                "token_type_ids".into(),
                Tensor::from_array(([b, s], batch.type_ids))
                    .map_err(merr)?
                    .into(),
            ));
        }
        let mut sess = self.sessions[slot].lock().expect("session");
        let out = sess.run(inputs).map_err(merr)?;
        let value = out
            .get("last_hidden_state")
            .ok_or_else(|| merr("model has no `last_hidden_state` output"))?;
        let (shape, data) = value.try_extract_tensor::<f32>().map_err(merr)?;
        let h = shape[2] as usize;
        if h != crate::index::DIM {
            return Err(merr(format!(
                "model outputs {h} dimensions, not {}",
                crate::index::DIM
            )));
        }
        Ok(data
            .chunks_exact(s * h)
            .take(b)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// A free session if there is one, else the first.
    fn pick(&self) -> usize {
        (0..self.sessions.len())
            .find(|&i| self.sessions[i].try_lock().is_ok())
            .unwrap_or(0)
    }
}

#[async_trait]
impl Embedder for OnnxEmbedder {
    fn model(&self) -> &str {
        &self.id
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        // Batches of texts of similar length: a batch is padded to its longest text, so a
        // 20-token title beside a 128-token plot would cost two 128-token rows.
        let len = texts.len();
        let mut order: Vec<usize> = (0..len).collect();
        order.sort_by_key(|&i| texts[i].len());
        let batches: Vec<Vec<usize>> = order.chunks(self.batch).map(<[usize]>::to_vec).collect();
        // One batch (a query) takes a free session; more are dealt round-robin to all of them.
        let n = self.inner.sessions.len().min(batches.len()).max(1);
        let texts = Arc::new(texts);
        let mut tasks = Vec::with_capacity(n);
        for slot in 0..n {
            let mine: Vec<Vec<usize>> = batches.iter().skip(slot).step_by(n).cloned().collect();
            let (inner, texts) = (self.inner.clone(), texts.clone());
            tasks.push(tokio::task::spawn_blocking(move || {
                let slot = if n == 1 { inner.pick() } else { slot };
                let mut out = Vec::with_capacity(mine.iter().map(Vec::len).sum());
                for b in mine {
                    let chunk: Vec<&str> = b.iter().map(|&i| texts[i].as_str()).collect();
                    out.extend(b.into_iter().zip(inner.run(slot, &chunk)?));
                }
                Ok::<_, SearchError>(out)
            }));
        }
        let mut out = vec![Vec::new(); len];
        for t in tasks {
            for (i, v) in t.await.map_err(merr)?? {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Model input rows of equal length (token ids, attention mask, token types).
pub(crate) struct Batch {
    rows: usize,
    len: usize,
    ids: Vec<i64>,
    mask: Vec<i64>,
    type_ids: Vec<i64>,
}

impl Batch {
    pub(crate) fn with_capacity(rows: usize, len: usize) -> Self {
        Self {
            rows: 0,
            len,
            ids: Vec::with_capacity(rows * len),
            mask: Vec::with_capacity(rows * len),
            type_ids: Vec::with_capacity(rows * len),
        }
    }

    pub(crate) fn push(&mut self, ids: &[u32], mask: &[u32], type_ids: &[u32]) {
        debug_assert_eq!(ids.len(), self.len);
        self.rows += 1;
        self.ids.extend(ids.iter().map(|&x| i64::from(x)));
        self.mask.extend(mask.iter().map(|&x| i64::from(x)));
        self.type_ids.extend(type_ids.iter().map(|&x| i64::from(x)));
    }
}

/// Scales to unit length (a zero vector stays zero).
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}
