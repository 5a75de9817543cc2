//! The REST API as the MCP tools see it: each call carries the agent's bearer token.

use serde_json::Value;

/// A failed API call, as the agent should read it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub body: Value,
}

#[derive(Clone)]
pub struct ApiClient {
    base: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(32)
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiFailure> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("x-mcp-tool", "1");
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.map_err(|e| ApiFailure {
            status: 503,
            code: "unavailable".into(),
            message: format!("the Media Gateway API is unreachable: {e}"),
            body: Value::Null,
        })?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or("error")
            .to_string();
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("the API answered {status}"));
        Err(ApiFailure {
            status,
            code,
            message,
            body,
        })
    }

    pub async fn get(&self, path: &str, token: &str) -> Result<Value, ApiFailure> {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Result<Value, ApiFailure> {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }
}
