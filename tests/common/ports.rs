//! Ports for the servers a test starts (shared by the harness and `tests/scripts.rs`).

use std::net::TcpListener;

/// A port for a server the test is about to start, taken below the kernel's ephemeral range.
///
/// Why not bind `:0`: the kernel hands out a port from the ephemeral range, the same range every
/// outgoing connection (PostgreSQL, Kafka, Redis clients of this and every other process) takes
/// its local port from; between dropping the probe listener and the server's own bind, a client
/// socket can take it and the server exits with "address in use" (seen in CI as "health/ready not
/// ready in 60 s"). Below the range only servers bind, and the counter keeps this process's picks
/// apart; the start is spread by pid so test binaries do not walk the same ports.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    const LOW: u32 = 10_000;
    if ephemeral_low <= LOW + 1_000 {
        // An unusual range leaves no room below it: let the kernel choose.
        return TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
    }
    let span = ephemeral_low - LOW;
    let start = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let port = LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        if TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port below {ephemeral_low}");
}
