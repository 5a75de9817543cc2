//! Measures raw produce throughput against the configured broker (diagnostics only).
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let topic = &args[1];
    let n: usize = args[2].parse().unwrap();
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", "127.0.0.1:9092");
    for kv in &args[3..] {
        let (k, v) = kv.split_once('=').unwrap();
        c.set(k, v);
    }
    let p: FutureProducer = c.create().unwrap();
    let payload = vec![7u8; 400];
    let t = Instant::now();
    let mut futs = Vec::new();
    for i in 0..n {
        let key = format!("key-{}", i % 1000);
        futs.push(
            p.send_result(FutureRecord::to(topic).key(&key).payload(&payload))
                .unwrap(),
        );
    }
    for f in futs {
        f.await.unwrap().unwrap();
    }
    println!(
        "{n} messages in {:?} = {:.0}/s",
        t.elapsed(),
        n as f64 / t.elapsed().as_secs_f64()
    );
}
