//! `mediagw eval …`: quality evaluations (docs/quality.md). They read datasets or query a running
//! API, never serve; the numbers they print are the published ones.

pub(crate) mod ranker;
pub(crate) mod recommendations;
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
        /// A labeled set in the schema of tests/fixtures/search/queries.json (`generated-queries.json`
        /// adds `split`; `scripts/make_search_queries.py` builds it).
        #[arg(long, default_value = "tests/fixtures/search/queries.json")]
        queries: PathBuf,
        /// Only queries of this split: train, dev or test.
        #[arg(long)]
        split: Option<String>,
        /// End with one JSON line of every number.
        #[arg(long)]
        json: bool,
    },
    /// NDCG@10 and Recall@20 of the product's recommendations on a rating dataset's time split,
    /// with popularity and item-kNN baselines and one ablation row per stage, against a running
    /// stack (the train split goes in through the command path; needs an empty database).
    Recommendations {
        #[arg(long)]
        ratings: PathBuf,
        #[arg(long)]
        items: PathBuf,
        #[arg(long, value_enum)]
        format: crate::cmd::feedback::Format,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api: String,
        /// End with one JSON line of every number.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(action: EvalCmd, config: crate::config::Config) -> anyhow::Result<()> {
    match action {
        EvalCmd::Recommendations {
            ratings,
            items,
            format,
            api,
            json,
        } => {
            let app = crate::app::App::connect(config).await?;
            recommendations::run(
                &app,
                api.trim_end_matches('/'),
                &ratings,
                &items,
                format,
                json,
            )
            .await
        }
        EvalCmd::Resolution { data, positives } => resolution::run(&data, positives),
        EvalCmd::Search {
            api,
            queries,
            split,
            json,
        } => search::run(api.trim_end_matches('/'), &queries, split.as_deref(), json).await,
    }
}
