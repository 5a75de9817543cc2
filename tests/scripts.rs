//! `scripts/lib.sh` against services of the test's own (own state directory and ports, never the
//! shared ones): the broker's recorded pid is tansu's, `scripts/down` stops it and never signals an
//! unrelated process named by a stale pid file; `ensure_redis` gives Redis passwords and the product
//! a least-privilege ACL user.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

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

fn redis_cli(port: u16, auth: Option<(&str, &str)>, args: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--no-auth-warning",
    ]);
    if let Some((user, pw)) = auth {
        c.args(["--user", user]).env("REDISCLI_AUTH", pw);
    }
    let out = c.args(args).output().expect("redis-cli");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .trim()
    .to_string()
}

/// `ensure_redis` against a Redis of the test's own: the product's user has a password and only its
/// own keys and channels, a Redis the script starts asks the default user for a password too, the
/// passwords never reach a command line, and running it again changes nothing.
#[test]
fn redis_gets_a_password_and_a_least_privilege_user() {
    let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("redis-acl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();
    let ensure = |state: &Path| {
        let out = Command::new("bash")
            .arg("-c")
            .arg("source scripts/lib.sh && ensure_redis && echo \"$MEDIAGW__REDIS__URL\"")
            .current_dir(root())
            .env("MEDIAGW_STATE", state)
            .env("MEDIAGW_REDIS_PORT", port.to_string())
            .output()
            .expect("bash");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        (
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            stderr,
        )
    };
    let (url, _) = ensure(&state);
    let pw = std::fs::read_to_string(state.join("redis-password")).unwrap();
    let admin = std::fs::read_to_string(state.join("redis-admin-password")).unwrap();
    assert_eq!(url, format!("redis://mediagw:{pw}@127.0.0.1:{port}/"));
    use std::os::unix::fs::PermissionsExt;
    for f in ["redis-password", "redis-admin-password"] {
        let mode = std::fs::metadata(state.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{f} is readable by others");
    }
    let server: u32 = std::fs::read_to_string(state.join("redis-server.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cmdline = std::fs::read(format!("/proc/{server}/cmdline")).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(!cmdline.contains(admin.trim()) && !cmdline.contains(pw.trim()));

    // Nobody gets in without a password; a wrong one is refused.
    assert!(redis_cli(port, None, &["get", "mediagw:x"]).contains("NOAUTH"));
    assert!(redis_cli(port, Some(("mediagw", "wrong")), &["ping"]).contains("WRONGPASS"));
    let me = Some(("mediagw", pw.trim()));
    assert_eq!(redis_cli(port, me, &["ping"]), "PONG");
    // Its own keys and channels, and the commands the product uses (scripts, scans, pub/sub).
    assert_eq!(
        redis_cli(port, me, &["set", "mediagw:k", "1", "EX", "60"]),
        "OK"
    );
    assert_eq!(
        redis_cli(
            port,
            me,
            &[
                "eval",
                "return redis.call('incr', KEYS[1])",
                "1",
                "mediagw:k"
            ]
        ),
        "2"
    );
    assert!(redis_cli(port, me, &["scan", "0", "MATCH", "mediagw:*"]).contains("mediagw:k"));
    assert_eq!(
        redis_cli(port, me, &["publish", "mediagw:user.1.sync", "x"]),
        "0"
    );
    // Nothing else: other keys and channels, administrative and dangerous commands.
    for denied in [
        vec!["set", "other:k", "1"],
        vec!["publish", "other", "x"],
        vec!["flushall"],
        vec!["config", "get", "requirepass"],
        vec!["keys", "*"],
        vec!["acl", "list"],
        vec!["client", "kill", "id", "1"],
        vec!["shutdown"],
    ] {
        let answer = redis_cli(port, me, &denied);
        assert!(answer.contains("NOPERM"), "{denied:?} answered {answer}");
    }

    // Again: same passwords, same user, nothing restarted.
    let (again, stderr) = ensure(&state);
    assert_eq!(again, url);
    assert!(
        !stderr.contains("ACL user"),
        "the user was rewritten: {stderr}"
    );
    assert_eq!(comm(server).as_deref(), Some("redis-server"));

    // The product refuses to start against a wrong password, says which setting, and does not echo it.
    let secret = "not-the-password-4f1c";
    let bad_url = format!("redis://mediagw:{secret}@127.0.0.1:{port}/");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mediagw"))
        .args(["serve", "--role", "api"])
        .env("MEDIAGW__REDIS__URL", &bad_url)
        .env("MEDIAGW__SEARCH__INDEX_DIR", state.join("index"))
        .env("MEDIAGW__HTTP__ADDR", format!("127.0.0.1:{}", free_port()))
        .env(
            "MEDIAGW__HTTP__INTERNAL_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("MEDIAGW__GRPC__ADDR", format!("127.0.0.1:{}", free_port()))
        .env(
            "MEDIAGW__REGISTRY__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("MEDIAGW__LOG__FORMAT", "text")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{log}");
    // Within seconds: redis-rs's default reconnect backoff once made this take over a minute.
    assert!(started.elapsed() < Duration::from_secs(30), "{log}");
    assert!(log.contains("redis.url"), "{log}");
    assert!(!log.contains(secret), "the password was logged: {log}");

    // A Redis that was already running keeps its default user and gains the product's.
    let kill = |pid: u32| {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        until(10, "redis stopped", || comm(pid).is_none());
    };
    kill(server);
    let mut foreign = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until(10, "foreign redis up", || listening(port));
    let fresh = state.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let (url2, _) = ensure(&fresh);
    let pw2 = std::fs::read_to_string(fresh.join("redis-password")).unwrap();
    assert!(url2.contains(pw2.trim()));
    assert!(!fresh.join("redis-admin-password").exists());
    assert_eq!(redis_cli(port, None, &["ping"]), "PONG");
    assert!(redis_cli(port, Some(("mediagw", pw2.trim())), &["flushall"]).contains("NOPERM"));
    foreign.kill().unwrap();
    let _ = foreign.wait();
    let _ = std::fs::remove_dir_all(&state);
}
