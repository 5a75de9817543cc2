//! Query encoder distilled from the same MiniLM model. For every vocabulary token the model is run
//! once on `[CLS] token [SEP]`; the table keeps the token's own output and the mean of the two
//! special tokens' outputs. A query of n tokens is then pooled the way the model pools a sentence
//! (mean over n token positions plus one `[CLS]` and one `[SEP]`): Σ own + 2 · mean(special),
//! normalised. It lives in the model's output space, so it is compared with the documents'
//! full-model embeddings directly (Model2Vec-style static embeddings, without the dimensionality
//! reduction that would leave that space).
//!
//! Why: a full model call costs ≈ 5 ms of a core per short query, which alone caps a 2-core machine
//! near 300 searches/s; a warm static lookup costs microseconds. A token's vector is computed by
//! the model the first time the token is seen (or for the whole vocabulary by [`Distilled::warm`])
//! and kept for the life of the process. ADR 0012 has the trade-off and the measured quality.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use super::{merr, normalize, Batch, Embedder, Inner, OnnxEmbedder};
use crate::index::DIM;
use crate::Result;

/// Token rows per model call when filling the table.
const FILL_BATCH: usize = 256;
/// Floats per token: its own output, then the mean of the special tokens' outputs.
const ROW: usize = 2 * DIM;

pub struct Distilled {
    inner: Arc<Inner>,
    table: Arc<Vec<OnceLock<Box<[f32]>>>>,
    cls: u32,
    sep: u32,
    max_tokens: usize,
    /// Per-token weight in the pooled query (see [`sif_weights`]).
    weights: Vec<f32>,
    id: String,
    /// Set to abandon a running [`Distilled::warm`] (shutdown).
    stop: Arc<AtomicBool>,
}

impl Distilled {
    pub fn new(model: &OnnxEmbedder) -> Result<Self> {
        let tok = &model.inner.tokenizer;
        let id_of = |t: &str| {
            tok.token_to_id(t)
                .ok_or_else(|| merr(format!("tokenizer has no `{t}` token")))
        };
        let (cls, sep) = (id_of("[CLS]")?, id_of("[SEP]")?);
        let vocab = tok.get_vocab_size(true);
        let weights = sif_weights(vocab, tok.token_to_id("the"), SIF_A);
        Ok(Self {
            inner: model.inner.clone(),
            table: Arc::new((0..vocab).map(|_| OnceLock::new()).collect()),
            cls,
            sep,
            max_tokens: model.max_tokens,
            weights,
            id: format!("{}/distilled-sif", model.id),
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Token ids of a text, without the special tokens, at most `max_tokens`.
    fn tokens(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .tokenizer
            .encode_fast(text, false)
            .map_err(merr)?;
        let mut ids: Vec<u32> = enc
            .get_ids()
            .iter()
            .copied()
            .filter(|&t| t != self.cls && t != self.sep && (t as usize) < self.table.len())
            .collect();
        ids.truncate(self.max_tokens);
        Ok(ids)
    }

    /// Computes the vectors of the tokens not in the table yet (blocking: runs the model).
    fn fill(
        inner: &Inner,
        table: &[OnceLock<Box<[f32]>>],
        (cls, sep): (u32, u32),
        ids: &[u32],
        stop: Option<&AtomicBool>,
    ) -> Result<()> {
        let mut missing: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&t| table[t as usize].get().is_none())
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let slot = inner.pick();
        for chunk in missing.chunks(FILL_BATCH) {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                return Err(merr("stopped"));
            }
            let mut batch = Batch::with_capacity(chunk.len(), 3);
            for &t in chunk {
                batch.push(&[cls, t, sep], &[1, 1, 1], &[0, 0, 0]);
            }
            for (&t, rows) in chunk.iter().zip(inner.hidden(slot, batch)?) {
                // [own output | mean of the [CLS] and [SEP] outputs]
                let mut v = rows[DIM..2 * DIM].to_vec();
                v.extend((0..DIM).map(|k| (rows[k] + rows[2 * DIM + k]) / 2.0));
                let _ = table[t as usize].set(v.into_boxed_slice());
            }
        }
        Ok(())
    }

    /// Fills the whole vocabulary (≈ 30k tokens) so no query waits for the model: from `file`
    /// when it holds a table of the right size, else by running the model (≈ 30 s of CPU), then
    /// saved to `file` (written aside and renamed, so concurrent writers are harmless).
    pub async fn warm(&self, file: Option<PathBuf>) -> Result<()> {
        let (inner, table, cls, sep) = (self.inner.clone(), self.table.clone(), self.cls, self.sep);
        let stop = self.stop.clone();
        tokio::task::spawn_blocking(move || {
            let bytes = table.len() * ROW * 4;
            if let Some(data) = file
                .as_ref()
                .and_then(|f| std::fs::read(f).ok())
                .filter(|d| d.len() == bytes)
            {
                for (t, row) in data.chunks_exact(ROW * 4).enumerate() {
                    let v: Vec<f32> = row
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    let _ = table[t].set(v.into_boxed_slice());
                }
                return Ok(());
            }
            let all: Vec<u32> = (0..table.len() as u32).collect();
            Self::fill(&inner, &table, (cls, sep), &all, Some(&stop))?;
            if let Some(f) = file {
                let mut data = Vec::with_capacity(bytes);
                for row in table.iter() {
                    let row = row.get().expect("filled above");
                    row.iter().for_each(|x| data.extend_from_slice(&x.to_le_bytes()));
                }
                let tmp = f.with_extension(format!("tmp{}", std::process::id()));
                if let Err(e) = std::fs::write(&tmp, &data).and_then(|_| std::fs::rename(&tmp, &f)) {
                    tracing::warn!(error = %e, file = %f.display(), "could not save the distilled token table");
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            Ok(())
        })
        .await
        .map_err(merr)?
    }

    /// Makes a running [`Distilled::warm`] give up at its next batch.
    pub fn stop_warming(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Tokens whose vectors are known.
    pub fn known_tokens(&self) -> usize {
        self.table.iter().filter(|t| t.get().is_some()).count()
    }

    fn combine(&self, ids: &[u32]) -> Vec<f32> {
        let mut own = vec![0f32; DIM];
        let mut special = vec![0f32; DIM];
        let mut n = 0f32;
        for &t in ids {
            if let Some(row) = self.table[t as usize].get() {
                let w = self.weights[t as usize];
                own.iter_mut()
                    .zip(&row[..DIM])
                    .for_each(|(a, x)| *a += w * x);
                special
                    .iter_mut()
                    .zip(&row[DIM..])
                    .for_each(|(a, x)| *a += w * x);
                n += 1.0;
            }
        }
        if n > 0.0 {
            own.iter_mut()
                .zip(&special)
                .for_each(|(a, s)| *a += 2.0 * s / n);
        }
        normalize(&mut own);
        own
    }
}

/// SIF's `a`: a word as frequent as this counts half. 1e-3 and 1e-4 found as many described films
/// on the dense channel alone (docs/quality.md); 1e-3 kept more title words.
const SIF_A: f32 = 1e-3;

/// Smooth inverse frequency weights (Arora et al. 2017, as Model2Vec applies them): `a / (a + p)`
/// with a token's probability `p` read off Zipf's law by its rank in the vocabulary. A WordPiece
/// vocabulary lists its words by frequency from "the" on; the special tokens and single characters
/// before it count as the most frequent. A plain mean lets "the", "a", "his", "and" outweigh the
/// two words that carry a description ("shark", "beach").
fn sif_weights(vocab: usize, first_word: Option<u32>, a: f32) -> Vec<f32> {
    let first = first_word.map_or(0, |t| t as usize);
    let ln_v = (vocab.max(2) as f32).ln();
    (0..vocab)
        .map(|id| {
            let rank = id.saturating_sub(first).max(1) as f32;
            let p = 1.0 / (rank * ln_v);
            a / (a + p)
        })
        .collect()
}

#[async_trait]
impl Embedder for Distilled {
    fn model(&self) -> &str {
        &self.id
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let tokens = texts
            .iter()
            .map(|t| self.tokens(t))
            .collect::<Result<Vec<_>>>()?;
        let cold: Vec<u32> = tokens
            .iter()
            .flatten()
            .copied()
            .filter(|&t| self.table[t as usize].get().is_none())
            .collect();
        if !cold.is_empty() {
            let (inner, table, cls, sep) =
                (self.inner.clone(), self.table.clone(), self.cls, self.sep);
            tokio::task::spawn_blocking(move || {
                Self::fill(&inner, &table, (cls, sep), &cold, None)
            })
            .await
            .map_err(merr)??;
        }
        Ok(tokens.iter().map(|ids| self.combine(ids)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_tokens_weigh_little_and_rare_ones_almost_fully() {
        // A BERT-like vocabulary: specials and characters below "the" (id 1996), words after.
        let w = sif_weights(30_522, Some(1996), SIF_A);
        assert_eq!(w.len(), 30_522);
        let the = w[1996];
        assert!(the < 0.02, "the: {the}");
        assert!(
            w[1037] <= the,
            "a single character counts as the most frequent"
        );
        assert!(w[1996 + 100] > the && w[1996 + 100] < 0.6);
        assert!(w[20_000] > 0.99, "a rare word: {}", w[20_000]);
        assert!(w.windows(2).skip(1996).all(|p| p[0] <= p[1]));
        // No word list known: every id is ranked from 0.
        assert!(sif_weights(10, None, SIF_A)[9] > sif_weights(10, None, SIF_A)[1]);
    }
}
