//! `jobenrich-distill --out DIR [--dims D] [--model-dir DIR]`: distils the
//! static encoder of the transformer in `--model-dir` into `--out` (the
//! table, the tokenizer and a NOTICE). An offline tool, kept out of the
//! `jobenrich` binary so the run-time build never links the eigensolver.
//!
//! cargo run --release -p jobenrich-encoder-distill -- \
//!     --out models/encoders/minilm-static-128 --dims 128

use anyhow::{bail, Context};
use clap::Parser;
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_candle::CandleEncoder;
use jobenrich_encoder_distill::{distill, DistillOptions, TokenEmbedder};
use jobenrich_encoder_static::{StaticEncoder, TOKENIZER_FILE};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Distil a static token table (model2vec) from the sentence transformer")]
struct Args {
    /// The transformer's directory (scripts/setup-models.sh).
    #[arg(long, default_value = "var/models/all-MiniLM-L6-v2")]
    model_dir: PathBuf,
    /// The static model directory to write; its name is the model id.
    #[arg(long)]
    out: PathBuf,
    /// Dimensions kept by PCA.
    #[arg(long, default_value_t = 128)]
    dims: usize,
}

struct Transformer(CandleEncoder);

impl TokenEmbedder for Transformer {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn embed_tokens(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>, String> {
        self.0.encode_token_ids(ids).map_err(|e| e.to_string())
    }
    fn embed_empty(&self) -> Result<Vec<f32>, String> {
        let mut v = self.0.encode_batch(&[""]).map_err(|e| e.to_string())?;
        v.pop()
            .ok_or_else(|| "no vector for the empty text".to_string())
    }
}

const NOTICE: &str = "\
{ID}: a static token table distilled by jobenrich-distill (the model2vec method:
every vocabulary token embedded once, PCA to {DIMS} dimensions, int8 with one
scale per dimension, weights ln(1 + rank)) from all-MiniLM-L6-v2
(sentence-transformers, https://www.sbert.net), licensed under the Apache
License 2.0 (https://www.apache.org/licenses/LICENSE-2.0); tokenizer.json is
that model's, unchanged. This derived work is distributed under the same
licence.
";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let model_id = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("--out names no directory")?;
    let enc = CandleEncoder::load(&args.model_dir, 8)
        .with_context(|| format!("loading {}", args.model_dir.display()))?;
    let tokenizer = enc.tokenizer().clone();
    let size = tokenizer.get_vocab_size(true);
    let mut vocab = vec![(String::new(), true); size];
    let specials = tokenizer.get_added_tokens_decoder();
    for (token, id) in tokenizer.get_vocab(true) {
        let special = specials.get(&id).is_some_and(|t| t.special);
        match vocab.get_mut(id as usize) {
            Some(slot) => *slot = (token, special),
            None => bail!("token id {id} beyond the vocabulary size {size}"),
        }
    }
    let options = DistillOptions {
        model_id: model_id.clone(),
        dims: args.dims,
        batch: 256,
        notes: vec![(
            "source_model".into(),
            args.model_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )],
    };
    let started = Instant::now();
    let (table, report) = distill(&Transformer(enc), &vocab, &options, |done, all| {
        if done % 4096 < 256 || done == all {
            eprintln!(
                "distill: {done}/{all} tokens, {:.0}s",
                started.elapsed().as_secs_f64()
            );
        }
    })
    .map_err(anyhow::Error::msg)?;
    table.write(&args.out).map_err(anyhow::Error::msg)?;
    std::fs::copy(
        args.model_dir.join(TOKENIZER_FILE),
        args.out.join(TOKENIZER_FILE),
    )
    .context("copying tokenizer.json")?;
    let notice = NOTICE
        .replace("{ID}", &model_id)
        .replace("{DIMS}", &args.dims.to_string());
    std::fs::write(args.out.join("NOTICE"), notice).context("writing NOTICE")?;
    // Read back what was written: the file must load as an encoder.
    let check = StaticEncoder::load(&args.out)?;
    let v = check.encode_batch(&["SQL", ""])?;
    println!(
        "wrote {} ({} of {} tokens, {} -> {} dims, PCA keeps {:.1}% of the variance) in {:.0}s; vectors of {} values",
        args.out.display(),
        report.kept,
        report.vocab,
        report.source_dim,
        report.dims,
        report.explained_variance * 100.0,
        started.elapsed().as_secs_f64(),
        v[0].len()
    );
    Ok(())
}
