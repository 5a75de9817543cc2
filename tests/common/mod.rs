//! Test harness: every test gets its own PostgreSQL database, topic prefix, consumer-group prefix and
//! ports, and runs the real `mediagw` binary against the real PostgreSQL and tansu broker.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;

use mediagw_auth::{Grant, KeySettings, KeyStore, TokenService};
use mediagw_domain::auth::{Role, Scopes, Tier};
use serde_json::{json, Value};
use sqlx::PgPool;

mod ports;
pub use ports::free_port;

pub fn admin_url() -> String {
    std::env::var("MEDIAGW_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://mediagw@127.0.0.1:5432/postgres".into())
}

pub fn brokers() -> String {
    std::env::var("MEDIAGW_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// The last lines of every log in `dir`, for a failure message that says why without a rerun.
pub fn log_tails(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "log"))
    {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(15)..];
        out.push_str(&format!(
            "\n--- {} (last {} lines)\n",
            f.display(),
            tail.len()
        ));
        for l in tail {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

pub struct Stack {
    pub name: String,
    pub db_url: String,
    pub pool: PgPool,
    pub prefix: String,
    pub api: String,
    /// The internal listener (metrics, health) of the process serving `api`.
    pub ops: String,
    pub registry: String,
    /// The internal listener of the process serving the registry (writes allowed there).
    pub registry_ops: String,
    pub grpc: String,
    env: HashMap<String, String>,
    children: HashMap<String, Child>,
    pub logs: PathBuf,
    /// Sends an operator (admin) token with every request.
    pub http: reqwest::Client,
    pub tokens: Arc<TokenService>,
}

fn unlimited() -> Vec<(String, String)> {
    ["ANONYMOUS", "FREE", "PREMIUM", "SIGN_IN", "OAUTH"]
        .into_iter()
        .flat_map(|t| {
            [
                (
                    format!("MEDIAGW__GATEWAY__RATE_LIMITS__{t}__REQUESTS_PER_MINUTE"),
                    "1000000".to_string(),
                ),
                (
                    format!("MEDIAGW__GATEWAY__RATE_LIMITS__{t}__BURST"),
                    "100000".to_string(),
                ),
            ]
        })
        .collect()
}

fn mint(tokens: &TokenService, user: uuid::Uuid, scope: &str, admin: bool, tier: Tier) -> String {
    mint_with_device(tokens, user, scope, admin, tier, None)
}

fn mint_with_device(
    tokens: &TokenService,
    user: uuid::Uuid,
    scope: &str,
    admin: bool,
    tier: Tier,
    device_id: Option<String>,
) -> String {
    mint_full(tokens, user, "tests", scope, admin, tier, device_id)
}

fn mint_full(
    tokens: &TokenService,
    user: uuid::Uuid,
    client_id: &str,
    scope: &str,
    admin: bool,
    tier: Tier,
    device_id: Option<String>,
) -> String {
    let mut roles = vec![Role::User];
    if admin {
        roles.push(Role::Admin);
    }
    tokens
        .issue(&Grant {
            user_id: user,
            client_id: client_id.into(),
            scopes: if scope.is_empty() {
                Scopes::all()
            } else {
                Scopes::parse(scope).unwrap()
            },
            roles,
            tier,
            device_id,
        })
        .unwrap()
        .token
}

impl Stack {
    pub async fn new(tag: &str) -> Stack {
        mediagw_schemas::install_tls_provider();
        let name = format!(
            "mgwt_{tag}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let admin = PgPool::connect(&admin_url())
            .await
            .expect("PostgreSQL must run (scripts/test starts it)");
        sqlx::Executor::execute(&admin, format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        admin.close().await;
        let base = admin_url();
        let db_url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
        let pool = PgPool::connect(&db_url).await.unwrap();
        let (api_port, reg_port, grpc_port) = (free_port(), free_port(), free_port());
        let ops_port = free_port();
        let prefix = format!("{name}.");
        let env: HashMap<String, String> = [
            ("MEDIAGW__DATABASE__URL", db_url.clone()),
            ("MEDIAGW__DATABASE__MAX_CONNECTIONS", "8".into()),
            ("MEDIAGW__KAFKA__BROKERS", brokers()),
            ("MEDIAGW__KAFKA__TOPIC_PREFIX", prefix.clone()),
            ("MEDIAGW__KAFKA__GROUP_PREFIX", format!("{name}-")),
            ("MEDIAGW__HTTP__ADDR", format!("127.0.0.1:{api_port}")),
            (
                "MEDIAGW__HTTP__INTERNAL_ADDR",
                format!("127.0.0.1:{ops_port}"),
            ),
            ("MEDIAGW__GRPC__ADDR", format!("127.0.0.1:{grpc_port}")),
            ("MEDIAGW__HTTP__MAX_BODY_BYTES", "65536".into()),
            ("MEDIAGW__REGISTRY__LISTEN", format!("127.0.0.1:{reg_port}")),
            (
                "MEDIAGW__REGISTRY__URL",
                format!("http://127.0.0.1:{reg_port}"),
            ),
            ("MEDIAGW__RELAY__POLL_INTERVAL_MS", "100".into()),
            ("RUST_LOG", "info,sqlx=warn,librdkafka=error".into()),
            // Each stack: its own index directory and cache namespace; the model from
            // `scripts/lib.sh ensure_model`.
            (
                "MEDIAGW__SEARCH__INDEX_DIR",
                PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                    .join(&name)
                    .join("index")
                    .display()
                    .to_string(),
            ),
            ("MEDIAGW__SEARCH__MODEL_DIR", model_dir()),
            ("MEDIAGW__SEARCH__EMBED_SESSIONS", "1".into()),
            // Queries' tokens are distilled on first sight (the lazy path) rather than the whole
            // vocabulary at every start.
            ("MEDIAGW__SEARCH__QUERY_ENCODER_WARM", "false".into()),
            ("MEDIAGW__REDIS__KEY_PREFIX", format!("mediagw:{name}:")),
            (
                "MEDIAGW__AUTH__ISSUER",
                format!("http://127.0.0.1:{api_port}"),
            ),
            ("MEDIAGW__AUTH__KEY_PREPUBLISH_S", "0".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(unlimited())
        .collect();
        // Tokens are signed with the key the server will load from this database.
        mediagw_auth::migrate(&pool).await.unwrap();
        let keys = KeyStore::open(
            pool.clone(),
            KeySettings {
                kek: None,
                prepublish: Duration::ZERO,
                rotate_after: Duration::ZERO,
                retain: Duration::from_secs(3630),
            },
        )
        .await
        .unwrap();
        let tokens = Arc::new(TokenService::new(
            keys,
            &format!("http://127.0.0.1:{api_port}"),
            "media-gateway-api",
            Duration::from_secs(3600),
            Duration::from_secs(30),
        ));
        // `http` acts as an operator (role admin): `/internal/*` needs it. Tests of auth itself use
        // their own clients.
        let operator = mint(&tokens, uuid::Uuid::new_v4(), "", true, Tier::Premium);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {operator}").parse().unwrap(),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&name);
        std::fs::create_dir_all(&logs).unwrap();
        Stack {
            name,
            db_url,
            pool,
            prefix,
            api: format!("http://127.0.0.1:{api_port}"),
            ops: format!("http://127.0.0.1:{ops_port}"),
            registry: format!("http://127.0.0.1:{reg_port}"),
            registry_ops: format!("http://127.0.0.1:{ops_port}"),
            grpc: format!("http://127.0.0.1:{grpc_port}"),
            env,
            children: HashMap::new(),
            logs,
            http,
            tokens,
        }
    }

    /// An access token of `user` with `scope` (all scopes when empty), signed like the server's.
    pub fn token(&self, user: uuid::Uuid, scope: &str) -> String {
        mint(&self.tokens, user, scope, false, Tier::Premium)
    }

    /// An operator's token (role `admin`, every scope).
    pub fn admin_token(&self) -> String {
        mint(&self.tokens, uuid::Uuid::new_v4(), "", true, Tier::Premium)
    }

    /// A token with every scope issued to a device (the device grant's `device_id` claim).
    pub fn token_for_device(&self, user: uuid::Uuid, device_id: uuid::Uuid) -> String {
        mint_with_device(
            &self.tokens,
            user,
            "",
            false,
            Tier::Premium,
            Some(device_id.to_string()),
        )
    }

    /// A token issued to another OAuth client (`scope` empty: every scope).
    pub fn token_for_client(&self, user: uuid::Uuid, client_id: &str, scope: &str) -> String {
        mint_full(
            &self.tokens,
            user,
            client_id,
            scope,
            false,
            Tier::Premium,
            None,
        )
    }

    /// A token of a new user of `tier` with every scope.
    pub fn token_of_tier(&self, tier: Tier) -> String {
        mint(&self.tokens, uuid::Uuid::new_v4(), "", false, tier)
    }

    /// Restores the seed's rate limits (the harness lifts them so other tests never hit them).
    pub fn seed_rate_limits(&mut self) {
        for (tier, rpm, burst) in [
            ("ANONYMOUS", 10, 5),
            ("FREE", 100, 20),
            ("PREMIUM", 1000, 100),
            ("SIGN_IN", 10, 5),
            ("OAUTH", 120, 30),
        ] {
            self.set_env(
                &format!("MEDIAGW__GATEWAY__RATE_LIMITS__{tier}__REQUESTS_PER_MINUTE"),
                &rpm.to_string(),
            );
            self.set_env(
                &format!("MEDIAGW__GATEWAY__RATE_LIMITS__{tier}__BURST"),
                &burst.to_string(),
            );
        }
    }

    /// Sets an environment variable for every `mediagw` process started after this call.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.insert(key.to_string(), value.to_string());
    }

    /// A `mediagw` command with this stack's configuration.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mediagw"));
        c.args(args).envs(&self.env).env_remove("MEDIAGW_CONFIG");
        c
    }

    /// Runs `mediagw <args>`, asserts it succeeded, returns its stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("run mediagw");
        assert!(
            out.status.success(),
            "mediagw {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a second `mediagw serve --role <role>` as `label` with `env` overriding this stack's
    /// (its own ports, say): another instance behind the same load balancer.
    pub fn start_as(&mut self, label: &str, role: &str, env: &[(&str, String)]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{label}.log")))
            .unwrap();
        let mut cmd = self.command(&["serve", "--role", role]);
        // Its own operations port unless the caller picks one.
        cmd.env(
            "MEDIAGW__HTTP__INTERNAL_ADDR",
            format!("127.0.0.1:{}", free_port()),
        );
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn mediagw");
        self.children.insert(label.to_string(), child);
    }

    /// A free loopback port.
    pub fn free_port() -> u16 {
        free_port()
    }

    /// Starts `mediagw serve --role <role>` under the label `role`.
    pub fn start(&mut self, role: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(
                self.logs
                    .join(format!("{}.log", role.replace(':', "_").replace(',', "+"))),
            )
            .unwrap();
        let mut cmd = self.command(&["serve", "--role", role]);
        // The process serving the API answers on the stack's operations port (`ops`); any other
        // process gets a port of its own (remembered for the registry's).
        let has = |r: &str| role == "all" || role.split(',').any(|x| x.trim() == r);
        if has("api") {
            if has("registry") {
                self.registry_ops = self.ops.clone();
            }
        } else {
            let port = free_port();
            cmd.env("MEDIAGW__HTTP__INTERNAL_ADDR", format!("127.0.0.1:{port}"));
            if has("registry") {
                self.registry_ops = format!("http://127.0.0.1:{port}");
            }
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn mediagw");
        self.children.insert(role.to_string(), child);
    }

    /// SIGKILL, no chance to drain.
    pub fn kill(&mut self, role: &str) {
        if let Some(mut c) = self.children.remove(role) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn terminate(&mut self, role: &str) -> std::process::ExitStatus {
        let mut c = self.children.remove(role).expect("role running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        c.wait().unwrap()
    }

    pub async fn wait_http(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{url} not ready in 60 s; logs in {}{}",
            self.logs.display(),
            log_tails(&self.logs)
        );
    }

    /// API + registry + relay + catalog projector in one process.
    pub async fn start_all(&mut self) {
        self.start("all");
        self.wait_http(&format!("{}/health/ready", self.ops)).await;
    }

    pub async fn ingest(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/internal/ingest", self.api))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Polls until `f` returns Some, or panics after `secs`.
    pub async fn eventually<T, F, Fut>(&self, secs: u64, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; logs in {}{}",
                self.logs.display(),
                log_tails(&self.logs)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The Prometheus text of `/metrics` (the API process's internal listener).
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.ops))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or(-1)
    }

    pub fn topic(&self, t: &str) -> String {
        format!("{}{t}", self.prefix)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for (_, mut c) in self.children.drain() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let name = self.name.clone();
        if std::thread::panicking() {
            eprintln!(
                "keeping database {name} and logs in {} for inspection",
                self.logs.display()
            );
            return;
        }
        // Async drop is not a thing: drop the database from a helper thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = PgPool::connect(&admin_url()).await {
                    let _ = sqlx::Executor::execute(
                        &admin,
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                    )
                    .await;
                }
            });
        })
        .join();
    }
}

/// A canonical title record for `generic` ingest.
pub fn title(imdb: &str, name: &str, year: u32, offers: Value) -> Value {
    json!({
        "platform": "generic",
        "region": "US",
        "raw_content": {
            "external_ids": {"imdb": imdb},
            "content_type": "movie",
            "title": name,
            "overview": format!("{name}: a film used in tests."),
            "release_date": format!("{year}-05-01"),
            "genres": ["drama"],
            "runtime_minutes": 100,
            "availability": offers
        }
    })
}

pub fn offer(platform: &str, kind: &str, price: Option<f64>) -> Value {
    let mut o = json!({
        "platform": platform,
        "availability_type": kind,
        "deep_link": format!("{platform}://title/1"),
        "web_url": format!("https://{platform}.example.com/title/1"),
    });
    if let Some(p) = price {
        o["price_amount"] = json!(p);
        o["price_currency"] = json!("USD");
    }
    o
}

/// Every record currently in `topic` (all partitions, from the beginning up to the high watermark).
pub async fn read_topic(topic: &str) -> Vec<rdkafka::message::OwnedMessage> {
    read_topic_at(&brokers(), topic).await
}

/// Every record of `topic` on the broker at `brokers`, up to the high watermarks.
pub async fn read_topic_at(brokers: &str, topic: &str) -> Vec<rdkafka::message::OwnedMessage> {
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::{ClientConfig, Offset, TopicPartitionList};
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("test-reader-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let md = consumer.fetch_metadata(Some(topic), timeout).unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut remaining = 0i64;
    for p in md.topics()[0].partitions() {
        let (low, high) = consumer.fetch_watermarks(topic, p.id(), timeout).unwrap();
        remaining += high - low;
        tpl.add_partition_offset(topic, p.id(), Offset::Offset(low))
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    while remaining > 0 {
        let m = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("records up to the watermark")
            .unwrap();
        out.push(m.detach());
        remaining -= 1;
    }
    out
}

/// A request to the API as `token`'s bearer: (status, JSON body or null).
pub async fn call(
    s: &Stack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", s.api))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `POST path` with a JSON body as `token`.
pub async fn post(s: &Stack, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(s, reqwest::Method::POST, path, token, Some(body)).await
}

/// `GET path` as `token`.
pub async fn get(s: &Stack, path: &str, token: &str) -> (u16, Value) {
    call(s, reqwest::Method::GET, path, token, None).await
}

/// A tansu broker of a test's own (for tests that wipe or restart a broker; never the shared one),
/// on a free port with its storage in the test's temporary directory.
pub struct OwnBroker {
    pub addr: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnBroker {
    pub async fn start(tag: &str) -> OwnBroker {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("broker-{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = OwnBroker {
            addr: format!("127.0.0.1:{}", free_port()),
            dir,
            child: None,
        };
        b.spawn().await;
        b
    }

    async fn spawn(&mut self) {
        let tansu = std::env::var("HOME")
            .map(|h| PathBuf::from(h).join(".cargo/bin/tansu"))
            .ok()
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("tansu"));
        let url = format!("tcp://{}", self.addr);
        let log = std::fs::File::create(self.dir.join("tansu.log")).unwrap();
        let child = Command::new(tansu)
            .current_dir(&self.dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("tansu on PATH or in ~/.cargo/bin (scripts/test installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&self.addr).is_err() {
            assert!(Instant::now() < deadline, "own tansu did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The broker dies (SIGKILL) and, after `down`, comes back on the same address with its data.
    pub async fn restart(&mut self, down: Duration) {
        self.stop();
        tokio::time::sleep(down).await;
        self.spawn().await;
    }

    /// Broker data loss: the broker dies and comes back with empty storage on the same address.
    pub async fn wipe(&mut self) {
        self.stop();
        for f in ["tansu.db", "tansu.db-wal", "tansu.db-shm"] {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        self.spawn().await;
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A PostgreSQL cluster of a test's own (initdb'd in the test's temporary directory, run as the
/// `postgres` user), for tests that stop it; never the shared server.
pub struct OwnPostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl OwnPostgres {
    pub async fn start(tag: &str) -> OwnPostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries (Debian's postgresql package)")
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .expect("initdb under /usr/lib/postgresql/*/bin");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("pg-{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let pg = OwnPostgres {
            port: free_port(),
            dir,
            bin,
        };
        pg.as_postgres(&["chown", "-R", "postgres", pg.dir.to_str().unwrap()], true);
        let data = pg.dir.join("data");
        pg.as_postgres(
            &[
                pg.bin.join("initdb").to_str().unwrap(),
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
            false,
        );
        pg.up().await;
        pg
    }

    /// Runs a command as `postgres` (or as is, for `chown`), asserting it succeeded.
    fn as_postgres(&self, args: &[&str], plain: bool) {
        let out = if plain {
            Command::new(args[0]).args(&args[1..]).output()
        } else {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .output()
        }
        .expect("run");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn up(&self) {
        let data = self.dir.join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        self.as_postgres(
            &[
                self.bin.join("pg_ctl").to_str().unwrap(),
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                self.dir.join("server.log").to_str().unwrap(),
                "-w",
                "start",
            ],
            false,
        );
    }

    fn down(&self) {
        let data = self.dir.join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }

    /// Stopped abruptly (`immediate`: no checkpoint, like a crash) and back after `down`.
    pub async fn restart(&self, down: Duration) {
        self.down();
        tokio::time::sleep(down).await;
        self.up().await;
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis server of a test's own (for tests that kill it; never the shared one).
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    pub async fn start() -> OwnRedis {
        let mut r = OwnRedis {
            port: free_port(),
            child: None,
        };
        r.spawn().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "own redis did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Killed, and back (empty: it keeps nothing on disk) after `down`.
    pub async fn restart(&mut self, down: Duration) {
        self.stop();
        tokio::time::sleep(down).await;
        self.spawn().await;
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Dumps the catalog tables in a canonical order (everything but physical row order).
pub async fn dump_catalog(s: &Stack) -> Vec<String> {
    let mut out = Vec::new();
    for q in [
        "SELECT row_to_json(c)::text FROM (SELECT * FROM catalog.content ORDER BY id) c",
        "SELECT row_to_json(e)::text FROM (SELECT * FROM catalog.external_ids ORDER BY id_type, id_value) e",
        "SELECT row_to_json(a)::text FROM (SELECT * FROM catalog.platform_availability ORDER BY id) a",
        "SELECT row_to_json(v)::text FROM (SELECT * FROM catalog.availability_versions ORDER BY content_id) v",
        "SELECT row_to_json(c)::text FROM (SELECT * FROM catalog.availability_changes ORDER BY content_id, sequence) c",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(q).fetch_all(&s.pool).await.unwrap();
        out.extend(rows);
    }
    out
}

/// The JSON lines a command printed (its output when stdout is not a terminal).
pub fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The embedding model's directory: `MEDIAGW__SEARCH__MODEL_DIR`, else where
/// `scripts/lib.sh ensure_model` puts it.
pub fn model_dir() -> String {
    std::env::var("MEDIAGW__SEARCH__MODEL_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.mediagw/models/minilm").into())
}
