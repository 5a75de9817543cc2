//! `mediagw eval …`: quality evaluations (docs/quality.md). They read datasets or query a running
//! API, never serve; the numbers they print are the published ones.

mod resolution;
pub(crate) mod search;

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum EvalCmd {
    /// Precision and recall of entity resolution on a labeled set built from the shared dataset.
    Resolution {
        #[arg(long, default_value = "../shared/data/wikipedia-movies")]
        data: PathBuf,
        /// How many true-duplicate records to generate.
        #[arg(long, default_value_t = 5000)]
        positives: usize,
    },
    /// MRR@10 and recall@10 of dense-only, keyword-only and hybrid search on a labeled query set,
    /// against a running API whose index holds the shared dataset.
    Search {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        #[arg(long, default_value = "tests/fixtures/search/queries.json")]
        queries: PathBuf,
    },
}

pub async fn run(action: EvalCmd) -> anyhow::Result<()> {
    match action {
        EvalCmd::Resolution { data, positives } => resolution::run(&data, positives),
        EvalCmd::Search { api, queries } => search::run(api.trim_end_matches('/'), &queries).await,
    }
}
