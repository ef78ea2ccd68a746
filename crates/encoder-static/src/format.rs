//! The static model file (`model.safetensors`): the token table quantised to
//! int8 with one scale per dimension (a quarter of f32's size, so the shipped
//! file stays a few MB), a frequency weight per token in f16, and the vector
//! of the empty text.

use half::f16;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The weights file inside a static model directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The WordPiece tokenizer the table was distilled with.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// `format` in the file's metadata; a reader refuses any other.
pub const FORMAT: &str = "jobenrich-static-v1";

/// The one safetensors metadata entry: a JSON object of strings (`format`,
/// `model_id`, provenance notes).
const METADATA_KEY: &str = "jobenrich";

/// A distilled token table in memory, before quantisation or after reading.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticTable {
    /// Identifies the table (`minilm-static-128`); the encoder's model id.
    pub model_id: String,
    /// Rows (one per token id of the tokenizer).
    pub vocab: usize,
    /// Values per row.
    pub dim: usize,
    /// `vocab * dim` values, row by row, not yet weighted.
    pub rows: Vec<f32>,
    /// One weight per token; 0 drops the token (special and unused tokens).
    pub weights: Vec<f32>,
    /// The vector an empty text gets (unit length).
    pub empty: Vec<f32>,
    /// Free-form provenance written to the metadata (source model, method).
    pub notes: Vec<(String, String)>,
}

fn view(dtype: Dtype, shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, String> {
    TensorView::new(dtype, shape, data).map_err(|e| e.to_string())
}

fn bad(path: &Path, reason: impl std::fmt::Display) -> String {
    format!("{}: {reason}", path.display())
}

impl StaticTable {
    /// Checks the shapes agree and every value is finite.
    pub fn validate(&self) -> Result<(), String> {
        if self.dim == 0 || self.vocab == 0 {
            return Err("the table is empty".into());
        }
        if self.rows.len() != self.vocab * self.dim
            || self.weights.len() != self.vocab
            || self.empty.len() != self.dim
        {
            return Err(format!(
                "shapes disagree: {} values for {} x {}, {} weights, empty vector of {}",
                self.rows.len(),
                self.vocab,
                self.dim,
                self.weights.len(),
                self.empty.len()
            ));
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if !(finite(&self.rows) && finite(&self.weights) && finite(&self.empty)) {
            return Err("the table holds a non-finite value".into());
        }
        if self.weights.iter().any(|w| *w < 0.0) {
            return Err("a token weight is negative".into());
        }
        Ok(())
    }

    /// The safetensors bytes: `embeddings` I8 [vocab, dim] (round(x / scale)),
    /// `scales` F32 [dim] (max |x| of the dimension / 127), `weights` F16
    /// [vocab], `empty` F32 [dim].
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        self.validate()?;
        let mut scales = vec![0f32; self.dim];
        for row in self.rows.chunks_exact(self.dim) {
            for (s, x) in scales.iter_mut().zip(row) {
                *s = s.max(x.abs());
            }
        }
        scales
            .iter_mut()
            .for_each(|s| *s = if *s > 0.0 { *s / 127.0 } else { 1.0 });
        let quantised: Vec<u8> = self
            .rows
            .chunks_exact(self.dim)
            .flat_map(|row| {
                row.iter()
                    .zip(&scales)
                    .map(|(x, s)| ((x / s).round().clamp(-127.0, 127.0) as i8) as u8)
            })
            .collect();
        let weights: Vec<u8> = self
            .weights
            .iter()
            .flat_map(|w| f16::from_f32(*w).to_le_bytes())
            .collect();
        let f32_bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let (scales, empty) = (f32_bytes(&scales), f32_bytes(&self.empty));
        let tensors = vec![
            (
                "embeddings",
                view(Dtype::I8, vec![self.vocab, self.dim], &quantised)?,
            ),
            ("scales", view(Dtype::F32, vec![self.dim], &scales)?),
            ("weights", view(Dtype::F16, vec![self.vocab], &weights)?),
            ("empty", view(Dtype::F32, vec![self.dim], &empty)?),
        ];
        // One metadata entry holding a sorted map: safetensors writes its
        // metadata HashMap in random order, and the same table must give the
        // same bytes.
        let mut fields: BTreeMap<String, String> = self.notes.iter().cloned().collect();
        fields.insert("format".into(), FORMAT.into());
        fields.insert("model_id".into(), self.model_id.clone());
        let json = serde_json::to_string(&fields).map_err(|e| e.to_string())?;
        let metadata = HashMap::from([(METADATA_KEY.to_string(), json)]);
        safetensors::serialize(tensors, Some(metadata)).map_err(|e| e.to_string())
    }

    /// Reads a file written by [`Self::to_bytes`] (rows dequantised); an
    /// error names the file and what is wrong.
    pub fn read(path: &Path) -> Result<StaticTable, String> {
        let bytes = std::fs::read(path).map_err(|e| bad(path, e))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(path, e))?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(path, e))?;
        let meta: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(METADATA_KEY))
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default();
        if meta.get("format").map(String::as_str) != Some(FORMAT) {
            return Err(bad(path, format!("not a {FORMAT} file (metadata.format)")));
        }
        let model_id = meta
            .get("model_id")
            .filter(|m| !m.is_empty())
            .cloned()
            .ok_or_else(|| bad(path, "metadata.model_id is missing"))?;
        let tensor = |name: &str, dtype: Dtype, rank: usize| {
            let t = st
                .tensor(name)
                .map_err(|e| bad(path, format!("tensor {name}: {e}")))?;
            if t.dtype() != dtype || t.shape().len() != rank {
                return Err(bad(
                    path,
                    format!(
                        "tensor {name} is {:?} {:?}, expected {dtype:?} of rank {rank}",
                        t.dtype(),
                        t.shape()
                    ),
                ));
            }
            Ok(t)
        };
        let emb = tensor("embeddings", Dtype::I8, 2)?;
        let (vocab, dim) = (emb.shape()[0], emb.shape()[1]);
        let f32s = |data: &[u8]| -> Vec<f32> {
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let scales = f32s(tensor("scales", Dtype::F32, 1)?.data());
        let empty = f32s(tensor("empty", Dtype::F32, 1)?.data());
        let weights: Vec<f32> = tensor("weights", Dtype::F16, 1)?
            .data()
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        if scales.len() != dim {
            return Err(bad(
                path,
                format!("{} scales for {dim} dimensions", scales.len()),
            ));
        }
        let rows: Vec<f32> = emb
            .data()
            .chunks_exact(dim)
            .flat_map(|row| row.iter().zip(&scales).map(|(q, s)| (*q as i8) as f32 * s))
            .collect();
        let notes = meta
            .into_iter()
            .filter(|(k, _)| k != "format" && k != "model_id")
            .collect();
        let table = StaticTable {
            model_id,
            vocab,
            dim,
            rows,
            weights,
            empty,
            notes,
        };
        table.validate().map_err(|e| bad(path, e))?;
        Ok(table)
    }

    /// Writes `model.safetensors` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| bad(dir, e))?;
        let path = dir.join(WEIGHTS_FILE);
        std::fs::write(&path, self.to_bytes()?).map_err(|e| bad(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn table() -> StaticTable {
        StaticTable {
            model_id: "tiny-static".into(),
            vocab: 3,
            dim: 2,
            rows: vec![0.0, 0.0, 1.0, -0.5, -2.0, 0.25],
            weights: vec![0.0, 1.0, 2.5],
            empty: vec![0.6, 0.8],
            notes: vec![("source_model".into(), "fake".into())],
        }
    }

    #[test]
    fn a_table_round_trips_within_the_int8_step() {
        let dir = tempfile::tempdir().unwrap();
        let t = table();
        t.write(dir.path()).unwrap();
        let back = StaticTable::read(&dir.path().join(WEIGHTS_FILE)).unwrap();
        assert_eq!((back.vocab, back.dim, &back.model_id), (3, 2, &t.model_id));
        assert_eq!(back.weights, t.weights);
        assert_eq!(back.empty, t.empty);
        assert_eq!(back.notes, t.notes);
        // Per-dimension steps: 2/127 and 0.5/127.
        for (i, (a, b)) in back.rows.iter().zip(&t.rows).enumerate() {
            let step = if i % 2 == 0 { 2.0 / 127.0 } else { 0.5 / 127.0 };
            assert!((a - b).abs() <= step / 2.0 + 1e-6, "{i}: {a} vs {b}");
        }
    }

    #[test]
    fn bad_tables_and_files_are_refused_with_a_reason() {
        let mut t = table();
        t.rows[1] = f32::NAN;
        assert!(t.to_bytes().unwrap_err().contains("non-finite"));
        let mut t = table();
        t.weights.pop();
        assert!(t.to_bytes().unwrap_err().contains("shapes disagree"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WEIGHTS_FILE);
        std::fs::write(&path, b"not safetensors").unwrap();
        let err = StaticTable::read(&path).unwrap_err();
        assert!(err.contains(WEIGHTS_FILE), "{err}");
        let other = safetensors::serialize(
            vec![("x", TensorView::new(Dtype::I8, vec![1], &[0u8]).unwrap())],
            None,
        )
        .unwrap();
        std::fs::write(&path, other).unwrap();
        assert!(StaticTable::read(&path)
            .unwrap_err()
            .contains("metadata.format"));
    }
}
