//! `scripts/up`'s broker start and `scripts/down` against a broker of the test's own (its own state
//! directory and port, never the shared one): the recorded pid is tansu's, `down` stops it, and a
//! stale pid file naming an unrelated process never gets that process signalled.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn bash(state: &Path, port: u16, script: &str) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(root())
        .env("MEDIAGW_STATE", state)
        .env("MEDIAGW_TANSU_PORT", port.to_string())
        .output()
        .expect("bash")
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

fn until(secs: u64, what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn down_stops_the_broker_up_started_and_nothing_else() {
    let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();
    let start = "source scripts/lib.sh && ensure_tansu";

    let out = bash(&state, port, start);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listening(port));
    let pid: u32 = std::fs::read_to_string(state.join("tansu.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        comm(pid).as_deref(),
        Some("tansu"),
        "the pid file names a wrapper, not the broker"
    );

    let out = bash(&state, port, "scripts/down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(15, "the broker stopped", || {
        comm(pid).is_none() && !listening(port)
    });
    assert!(!state.join("tansu.pid").exists());

    // Up again; then the pid file goes stale and names an unrelated process.
    let out = bash(&state, port, start);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let broker: u32 = std::fs::read_to_string(state.join("tansu.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut bystander = Command::new("sleep").arg("300").spawn().unwrap();
    std::fs::write(state.join("tansu.pid"), bystander.id().to_string()).unwrap();
    let out = bash(&state, port, "scripts/down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(15, "the broker found by its port and stopped", || {
        comm(broker).is_none() && !listening(port)
    });
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "an unrelated process was signalled"
    );
    bystander.kill().unwrap();
    let _ = bystander.wait();
    let _ = std::fs::remove_dir_all(&state);
}
