//! Boost stage, the personal part: the user's taste, from the search-activity projection. The
//! boosts themselves are `mediagw_domain::search::boost`.

use super::contract::SearchMode;
use super::plan::Plan;
use super::service::{SearchService, ACTIVITY_SCHEMA};
use crate::error::ApiError;

impl SearchService {
    /// The user's genre affinity from past searches (strongest first); none for anonymous and
    /// raw-channel searches.
    pub(super) async fn taste(&self, plan: &Plan) -> Result<Vec<(String, f32)>, ApiError> {
        let Some(user) = plan.user_id.filter(|_| plan.mode == SearchMode::Hybrid) else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_as(&format!(
            "SELECT genre, weight FROM {ACTIVITY_SCHEMA}.user_genres WHERE user_id = $1
             ORDER BY weight DESC, genre LIMIT 5"
        ))
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }
}
