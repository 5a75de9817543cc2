//! Measures raw consume throughput of one topic from the beginning (diagnostics only).
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let topic = &args[1];
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", "127.0.0.1:9092")
        .set("group.id", "probe");
    for kv in &args[2..] {
        let (k, v) = kv.split_once('=').unwrap();
        c.set(k, v);
    }
    let consumer: StreamConsumer = c.create().unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut total = 0;
    for p in md.topics()[0].partitions() {
        let (lo, hi) = consumer
            .fetch_watermarks(topic, p.id(), Duration::from_secs(5))
            .unwrap();
        total += hi - lo;
        tpl.add_partition_offset(topic, p.id(), Offset::Offset(lo))
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let t = Instant::now();
    for _ in 0..total {
        consumer.recv().await.unwrap();
    }
    println!(
        "{total} messages in {:?} = {:.0}/s",
        t.elapsed(),
        total as f64 / t.elapsed().as_secs_f64()
    );
}
