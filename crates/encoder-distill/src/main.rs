//! `jobenrich-distill --out DIR [--dims D] [--model-dir DIR] [--fit-index
//! FILE]`: distils the static encoder of the transformer in `--model-dir`
//! into `--out` (the table, the tokenizer and a NOTICE). With `--fit-index`
//! (the transformer's cached ESCO index), the table is then fitted to the
//! transformer's vectors of ESCO's labels (`fit.rs`), the held-out wordings
//! of `held_out_wordings` left out. An offline tool, kept out of the
//! `jobenrich` binary so the run-time build never links the eigensolver.
//!
//! cargo run --release -p jobenrich-encoder-distill -- \
//!     --out models/encoders/minilm-static-128 --dims 128

use anyhow::{bail, Context};
use clap::Parser;
use jobenrich_domain::TextEncoder;
use jobenrich_encoder_candle::CandleEncoder;
use jobenrich_encoder_distill::{
    distill_with_pca, fit_rows, held_out_wordings, DistillOptions, FitExample, Pca, TokenEmbedder,
};
use jobenrich_encoder_static::{StaticEncoder, StaticTable, TOKENIZER_FILE};
use jobenrich_enrichment_engine::{load_esco_skills, SkillIndex};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
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
    /// The transformer's cached ESCO index (var/cache/skill-index_*.bin):
    /// fit the table to its label vectors.
    #[arg(long)]
    fit_index: Option<PathBuf>,
    /// The ESCO skills file that index was built from.
    #[arg(
        long,
        default_value = "data/taxonomy/esco-v1.1.1-all-skills/skills_en.csv"
    )]
    fit_taxonomy: PathBuf,
    /// How strongly a fitted row is held to its distilled value.
    #[arg(long, default_value_t = 1.0)]
    fit_lambda: f32,
    /// Conjugate-gradient iterations at most.
    #[arg(long, default_value_t = 200)]
    fit_iterations: usize,
}

/// The fit's phrases: every row of the transformer's ESCO index but the
/// held-out wordings, as word-piece ids and the row's vector in PCA space.
fn fit_examples(
    index_path: &Path,
    taxonomy: &Path,
    tokenizer: &tokenizers::Tokenizer,
    pca: &Pca,
) -> anyhow::Result<Vec<FitExample>> {
    let index = SkillIndex::load(index_path)?;
    let concepts = load_esco_skills(taxonomy)?;
    let rows = SkillIndex::label_rows(&concepts);
    if rows.len() != index.rows() || concepts.len() != index.concepts() {
        bail!(
            "{} has {} rows of {} concepts, {} gives {} of {}: not the index of this taxonomy",
            index_path.display(),
            index.rows(),
            index.concepts(),
            taxonomy.display(),
            rows.len(),
            concepts.len()
        );
    }
    let (_, held) = held_out_wordings(&concepts);
    let held: HashSet<(&str, &str)> = held.iter().map(|(w, c)| (w.as_str(), c.as_str())).collect();
    let mut out = Vec::with_capacity(rows.len());
    for (r, (text, concept)) in rows.into_iter().enumerate() {
        if held.contains(&(text, concepts[concept as usize].label.as_str())) {
            continue;
        }
        let ids = tokenizer
            .encode_fast(text, false)
            .map_err(|e| anyhow::anyhow!("tokenizing {text:?}: {e}"))?
            .get_ids()
            .to_vec();
        out.push(FitExample {
            ids,
            target: pca.project(&index.row_vector(r)),
        });
    }
    Ok(out)
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
scale per dimension, weights ln(1 + rank){FIT}) from all-MiniLM-L6-v2
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
    let (mut table, report, pca) =
        distill_with_pca(&Transformer(enc), &vocab, &options, |done, all| {
            if done % 4096 < 256 || done == all {
                eprintln!(
                    "distill: {done}/{all} tokens, {:.0}s",
                    started.elapsed().as_secs_f64()
                );
            }
        })
        .map_err(anyhow::Error::msg)?;
    let method = match &args.fit_index {
        Some(index) => {
            fit(&mut table, &args, index, &tokenizer, &pca)?;
            format!(
                "; rows then fitted to the transformer's vectors of ESCO's labels (lambda {})",
                args.fit_lambda
            )
        }
        None => String::new(),
    };
    table.write(&args.out).map_err(anyhow::Error::msg)?;
    std::fs::copy(
        args.model_dir.join(TOKENIZER_FILE),
        args.out.join(TOKENIZER_FILE),
    )
    .context("copying tokenizer.json")?;
    let notice = NOTICE
        .replace("{ID}", &model_id)
        .replace("{DIMS}", &args.dims.to_string())
        .replace("{FIT}", &method);
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

fn fit(
    table: &mut StaticTable,
    args: &Args,
    index: &Path,
    tokenizer: &tokenizers::Tokenizer,
    pca: &Pca,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let examples = fit_examples(index, &args.fit_taxonomy, tokenizer, pca)?;
    let (rows, report) = fit_rows(
        &table.rows,
        &table.weights,
        table.dim,
        &examples,
        args.fit_lambda,
        args.fit_iterations,
        1e-4,
    )
    .map_err(anyhow::Error::msg)?;
    eprintln!(
        "fit: {} phrases, {} rows moved, {} iterations (residual {:.1e}), phrase MSE {:.5} -> {:.5}, {:.0}s",
        report.examples,
        report.tokens_moved,
        report.iterations,
        report.relative_residual,
        report.mse_before,
        report.mse_after,
        started.elapsed().as_secs_f64()
    );
    table.rows = rows;
    table.notes.extend([
        (
            "fit".to_string(),
            "ridge regression of the rows on the transformer's vectors of ESCO's labels (held-out wordings left out)".to_string(),
        ),
        ("fit_lambda".to_string(), args.fit_lambda.to_string()),
        ("fit_phrases".to_string(), report.examples.to_string()),
    ]);
    table.validate().map_err(anyhow::Error::msg)
}
