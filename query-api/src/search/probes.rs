//! Probes stage: embeds the description the plan asks for, then sends every channel's query to
//! the index in one round trip. Which channels run is `mediagw_domain::search::probes`.

use std::time::Instant;

use mediagw_domain::search::probes::{self, ChannelProbe};
use mediagw_domain::search::references::Referenced;
use mediagw_domain::search::Channel;
use mediagw_search_adapters::index::{ChannelQuery, Hit, PayloadFields, Probe, CAST, TEXT, TITLE};

use super::errors::{backend, stage};
use super::service::SearchService;
use crate::error::ApiError;

impl SearchService {
    /// Each probe's channel and hits, in the probes' order.
    pub(super) async fn probe(
        &self,
        generation: i64,
        planned: Vec<ChannelProbe>,
        referenced: &[Referenced],
    ) -> Result<(Vec<Channel>, Vec<Vec<Hit>>), ApiError> {
        let mut channels = Vec::with_capacity(planned.len());
        let mut queries = Vec::with_capacity(planned.len());
        for p in planned {
            let probe = match p.probe {
                probes::Probe::Embed(text) => {
                    let t = Instant::now();
                    let v = self
                        .embedder
                        .embed(vec![text])
                        .await
                        .map_err(backend)?
                        .pop()
                        .ok_or_else(|| backend("the model returned no vector"))?;
                    stage("embed", t);
                    Probe::Dense(v)
                }
                probes::Probe::Terms(v) => Probe::Sparse(TEXT, v),
                probes::Probe::Title(v) => Probe::Sparse(TITLE, v),
                probes::Probe::Neighbours(i) => Probe::Dense(referenced[i].vector.clone()),
                probes::Probe::Cast(v) => Probe::Sparse(CAST, v),
                probes::Probe::Popular => Probe::Popular,
            };
            channels.push(p.channel);
            queries.push(ChannelQuery {
                probe,
                filter: p.filter,
                limit: p.limit,
                fields: PayloadFields::Brief,
            });
        }
        let t = Instant::now();
        let results = if queries.is_empty() {
            Vec::new()
        } else {
            self.index
                .query(generation, queries)
                .await
                .map_err(backend)?
        };
        stage("index", t);
        Ok((channels, results))
    }
}
