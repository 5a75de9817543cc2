//! Redis over TLS with a private CA, as a managed Redis (Memorystore) serves it: a TLS-only
//! `redis-server` of the test's own with certificates from a CA made here; the API's rate limits
//! (Redis-backed, failing open on errors) refuse past the budget only if the TLS connection works.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl on PATH");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for localhost / 127.0.0.1 signed by it.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=mediagw test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    );
}

struct TlsRedis(Child);

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn tls_redis(dir: &Path, port: u16) -> TlsRedis {
    let child = Command::new("redis-server")
        .current_dir(dir)
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.pem",
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server on PATH");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "TLS redis did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    TlsRedis(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_uses_a_tls_only_redis_with_a_private_ca() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("redis-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let port = Stack::free_port();
    let _redis = tls_redis(&dir, port).await;

    let mut s = Stack::new("redistls").await;
    s.set_env(
        "MEDIAGW__REDIS__URL",
        &format!("rediss://localhost:{port}/"),
    );
    s.set_env(
        "MEDIAGW__REDIS__CA_FILE",
        dir.join("ca.pem").to_str().unwrap(),
    );
    s.set_env(
        "MEDIAGW__GATEWAY__RATE_LIMITS__ANONYMOUS__REQUESTS_PER_MINUTE",
        "2",
    );
    s.set_env("MEDIAGW__GATEWAY__RATE_LIMITS__ANONYMOUS__BURST", "2");
    s.set_env("MEDIAGW__SYNC__FANOUT", "redis");
    s.start("api,registry");
    s.wait_http(&format!("{}/health/ready", s.ops)).await;

    let anonymous = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = anonymous
            .get(format!("{}/v1/search/trending", s.api))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(
        statuses[..2].iter().all(|s| *s != 429) && statuses[2..].contains(&429),
        "the Redis-backed budget holds over TLS: {statuses:?}"
    );
    let metrics = s.metrics().await;
    assert!(
        !metrics.contains("gateway_limit_store_errors_total"),
        "no Redis errors: {}",
        metrics
            .lines()
            .filter(|l| l.contains("gateway_limit"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
