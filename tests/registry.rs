//! The embedded Confluent-compatible schema registry, driven by real clients.

mod common;

use common::Stack;
use serde_json::{json, Value};

async fn call(s: &Stack, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut r = s
        .http
        .request(method, format!("{}{path}", s.registry))
        .header("content-type", "application/vnd.schemaregistry.v1+json");
    if let Some(b) = body {
        r = r.body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

const V1: &str = r#"{"type":"record","name":"Rating","namespace":"test","fields":[{"name":"stars","type":"int"}]}"#;
const V2_OK: &str = r#"{"type":"record","name":"Rating","namespace":"test","fields":[{"name":"stars","type":"int"},{"name":"note","type":["null","string"],"default":null}]}"#;
const V2_BAD: &str = r#"{"type":"record","name":"Rating","namespace":"test","fields":[{"name":"stars","type":"int"},{"name":"note","type":"string"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_api_registers_versions_and_enforces_backward_compatibility() {
    use reqwest::Method;
    let mut s = Stack::new("registry").await;
    s.start("registry");
    s.wait_http(&format!("{}/subjects", s.registry)).await;

    let (st, r) = call(
        &s,
        Method::POST,
        "/subjects/ratings-value/versions",
        Some(json!({"schema": V1})),
    )
    .await;
    assert_eq!(st, 200);
    let id1 = r["id"].as_i64().unwrap();
    // Idempotent.
    assert_eq!(
        call(
            &s,
            Method::POST,
            "/subjects/ratings-value/versions",
            Some(json!({"schema": V1}))
        )
        .await
        .1["id"],
        id1
    );
    // BACKWARD by default: a new required field without default is refused.
    let (st, r) = call(
        &s,
        Method::POST,
        "/compatibility/subjects/ratings-value/versions/latest",
        Some(json!({"schema": V2_BAD})),
    )
    .await;
    assert_eq!((st, r["is_compatible"].clone()), (200, json!(false)));
    let (st, r) = call(
        &s,
        Method::POST,
        "/subjects/ratings-value/versions",
        Some(json!({"schema": V2_BAD})),
    )
    .await;
    assert_eq!((st, r["error_code"].clone()), (409, json!(409)));
    let (st, r) = call(
        &s,
        Method::POST,
        "/compatibility/subjects/ratings-value/versions/latest",
        Some(json!({"schema": V2_OK})),
    )
    .await;
    assert_eq!((st, r["is_compatible"].clone()), (200, json!(true)));
    let (_, r) = call(
        &s,
        Method::POST,
        "/subjects/ratings-value/versions",
        Some(json!({"schema": V2_OK})),
    )
    .await;
    let id2 = r["id"].as_i64().unwrap();
    assert_ne!(id1, id2);

    // The product's own schemas were registered at start (producers only look them up); a
    // subject of someone else's is beside them.
    let subjects = call(&s, Method::GET, "/subjects", None).await.1;
    let subjects: Vec<&str> = subjects
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(subjects.contains(&"ratings-value"), "{subjects:?}");
    let ingested = format!("{}content.ingested-mediagw.catalog.TitleIngested", s.prefix);
    let sealed = format!("{}user.interaction-mediagw.privacy.Sealed", s.prefix);
    assert!(
        subjects.contains(&ingested.as_str()) && subjects.contains(&sealed.as_str()),
        "{subjects:?}"
    );

    // Without an operator's token: reads, and re-registering what is there (a serializer learning
    // its id), but no new version, no delete, no level change.
    let anonymous = |method: Method, path: &str, body: Option<Value>| {
        let mut r = reqwest::Client::new()
            .request(method, format!("{}{path}", s.registry))
            .header("content-type", "application/vnd.schemaregistry.v1+json");
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        async move {
            let resp = r.send().await.unwrap();
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (st, r) = anonymous(
        Method::POST,
        "/subjects/ratings-value/versions",
        Some(json!({"schema": V1})),
    )
    .await;
    assert_eq!((st, r["id"].as_i64()), (200, Some(id1)), "{r}");
    const V3: &str = r#"{"type":"record","name":"Rating","namespace":"test","fields":[{"name":"stars","type":"int"},{"name":"tag","type":["null","string"],"default":null}]}"#;
    let (st, r) = anonymous(
        Method::POST,
        "/subjects/ratings-value/versions",
        Some(json!({"schema": V3})),
    )
    .await;
    assert_eq!((st, r["error_code"].as_i64()), (403, Some(40301)), "{r}");
    let (st, _) = anonymous(Method::DELETE, "/subjects/ratings-value", None).await;
    assert_eq!(st, 403);
    let (st, _) = anonymous(
        Method::PUT,
        "/config",
        Some(json!({"compatibility": "NONE"})),
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = anonymous(Method::GET, "/subjects/ratings-value/versions", None).await;
    assert_eq!(st, 200);
    // The registry's internal listener is for operators and deploy jobs: writes allowed there.
    let r = reqwest::Client::new()
        .post(format!("{}/subjects/notes-value/versions", s.registry_ops))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(json!({"schema": V3}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        call(&s, Method::GET, "/subjects/ratings-value/versions", None)
            .await
            .1,
        json!([1, 2])
    );
    let (_, latest) = call(
        &s,
        Method::GET,
        "/subjects/ratings-value/versions/latest",
        None,
    )
    .await;
    assert_eq!(
        (latest["version"].clone(), latest["id"].clone()),
        (json!(2), json!(id2))
    );
    let (_, v1) = call(&s, Method::GET, "/subjects/ratings-value/versions/1", None).await;
    assert_eq!(v1["id"], json!(id1));
    let (_, by_id) = call(&s, Method::GET, &format!("/schemas/ids/{id1}"), None).await;
    assert!(by_id["schema"].as_str().unwrap().contains("stars"));
    let (st, r) = call(
        &s,
        Method::POST,
        "/subjects/ratings-value",
        Some(json!({"schema": V1})),
    )
    .await;
    assert_eq!((st, r["version"].clone()), (200, json!(1)));

    // Per-subject level: NONE lets the breaking change in; the global default stays BACKWARD.
    assert_eq!(
        call(&s, Method::GET, "/config", None).await.1["compatibilityLevel"],
        "BACKWARD"
    );
    assert_eq!(
        call(&s, Method::GET, "/config/ratings-value", None).await.0,
        404
    );
    assert_eq!(
        call(
            &s,
            Method::PUT,
            "/config/ratings-value",
            Some(json!({"compatibility": "NONE"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(&s, Method::GET, "/config/ratings-value", None).await.1["compatibilityLevel"],
        "NONE"
    );
    assert_eq!(
        call(
            &s,
            Method::POST,
            "/subjects/ratings-value/versions",
            Some(json!({"schema": V2_BAD}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        call(
            &s,
            Method::PUT,
            "/config/ratings-value",
            Some(json!({"compatibility": "SIDEWAYS"}))
        )
        .await
        .1["error_code"],
        42203
    );

    // Errors in Confluent's shape.
    assert_eq!(
        call(&s, Method::GET, "/subjects/nope/versions", None)
            .await
            .1["error_code"],
        40401
    );
    assert_eq!(
        call(&s, Method::GET, "/subjects/ratings-value/versions/99", None)
            .await
            .1["error_code"],
        40402
    );
    assert_eq!(
        call(&s, Method::GET, "/schemas/ids/9999", None).await.1["error_code"],
        40403
    );
    assert_eq!(
        call(
            &s,
            Method::POST,
            "/subjects/x/versions",
            Some(json!({"schema": "{not avro"}))
        )
        .await
        .1["error_code"],
        42201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_registry_converter_round_trips_through_the_embedded_registry() {
    use schema_registry_converter::async_impl::easy_avro::{EasyAvroDecoder, EasyAvroEncoder};
    use schema_registry_converter::async_impl::schema_registry::SrSettings;
    use schema_registry_converter::schema_registry_common::{
        SchemaType, SubjectNameStrategy, SuppliedSchema,
    };

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Rating {
        stars: i32,
        note: Option<String>,
    }

    let mut s = Stack::new("converter").await;
    s.start("registry");
    s.wait_http(&format!("{}/subjects", s.registry)).await;
    // A new schema is registered through the internal listener (writes need an operator).
    let encoder = EasyAvroEncoder::new(SrSettings::new(s.registry_ops.clone()));
    let decoder = EasyAvroDecoder::new(SrSettings::new(s.registry.clone()));
    let strategy = SubjectNameStrategy::TopicRecordNameStrategyWithSchema(
        "ratings".into(),
        SuppliedSchema::new(Some("test.Rating".into()), SchemaType::Avro, V2_OK.into()),
    );
    let value = Rating {
        stars: 4,
        note: Some("great".into()),
    };
    let bytes = encoder.encode_struct(&value, &strategy).await.unwrap();
    assert_eq!(bytes[0], 0);
    let decoded = decoder.decode(Some(&bytes)).await.unwrap();
    let back: Rating = apache_avro::from_value(&decoded.value).unwrap();
    assert_eq!(back, value);
    let subjects: Vec<String> = s
        .http
        .get(format!("{}/subjects", s.registry))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let theirs: Vec<&String> = subjects
        .iter()
        .filter(|s| !s.starts_with("mgwt_"))
        .collect();
    assert_eq!(theirs, vec!["ratings-test.Rating"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_check_fails_on_an_incompatible_change() {
    let mut s = Stack::new("schemacheck").await;
    s.start("registry");
    s.wait_http(&format!("{}/subjects", s.registry)).await;
    s.run_ok(&["schemas", "register"]);

    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/avro");
    s.run_ok(&["schemas", "check", "--dir", src.to_str().unwrap()]);

    // A compatible evolution (optional field with default) passes...
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-avro", s.name));
    std::fs::create_dir_all(&dir).unwrap();
    for f in std::fs::read_dir(&src).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let file = dir.join("TitleIngested.avsc");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    schema["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "tagline", "type": ["null", "string"], "default": null}));
    std::fs::write(&file, schema.to_string()).unwrap();
    s.run_ok(&["schemas", "check", "--dir", dir.to_str().unwrap()]);

    // ...a required field without a default does not.
    schema["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "studio", "type": "string"}));
    std::fs::write(&file, schema.to_string()).unwrap();
    let broken = s
        .command(&["schemas", "check", "--dir", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert!(
        stdout.contains("INCOMPATIBLE") && stdout.contains("TitleIngested"),
        "{stdout}"
    );
}
