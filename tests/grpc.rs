//! gRPC ContentService with health and reflection, over a real server and catalog.

mod common;

use common::{offer, title, Stack};
use mediagw_query_api::grpc::pb;
use pb::content_service_client::ContentServiceClient;
use serde_json::json;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_service_health_and_reflection() {
    let mut s = Stack::new("grpc").await;
    s.set_env("MEDIAGW__GRPC__REFLECTION", "true");
    s.start_all().await;
    let mut gamma = title(
        "tt0000301",
        "Gamma Ray",
        2011,
        json!([
            offer("netflix", "subscription", None),
            offer("apple_tv", "rent", Some(3.99))
        ]),
    );
    gamma["raw_content"]["average_rating"] = json!(6.4);
    gamma["raw_content"]["vote_count"] = json!(321);
    let (_, a) = s.ingest(&gamma).await;
    let id = a["content_id"].as_str().unwrap().to_string();
    // Title and offers travel on different topics: wait for both to be projected.
    s.eventually(15, "title and offers projected", || async {
        let (st, body) = s.get(&format!("/v1/content/{id}")).await;
        (st == 200 && body["availability"].as_array().map_or(0, |a| a.len()) == 2).then_some(())
    })
    .await;
    let mut client = ContentServiceClient::connect(s.grpc.clone()).await.unwrap();

    let c = client
        .get_content(pb::GetContentRequest {
            content_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c.title, "Gamma Ray");
    assert_eq!(c.release_date, "2011-05-01");
    assert_eq!(c.external_ids["imdb"], "tt0000301");
    assert_eq!(c.availability.len(), 2);
    assert_eq!((c.average_rating, c.vote_count), (Some(6.4), 321));
    let rent = c
        .availability
        .iter()
        .find(|o| o.platform == "apple_tv")
        .unwrap();
    assert_eq!(rent.price_amount.as_deref(), Some("3.99"));

    let missing = uuid::Uuid::new_v4().to_string();
    let b = client
        .batch_get_content(pb::BatchGetContentRequest {
            content_ids: vec![missing.clone(), id.clone()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(b.content.len(), 1);
    assert_eq!(b.not_found, vec![missing.clone()]);

    let r = client
        .resolve_external_id(pb::ResolveExternalIdRequest {
            id_type: "imdb".into(),
            id_value: "tt0000301".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.id, id);

    // Errors carry gRPC codes and name the field.
    let e = client
        .get_content(pb::GetContentRequest {
            content_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("content_id"));
    let e = client
        .get_content(pb::GetContentRequest {
            content_id: missing,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = client
        .batch_get_content(pb::BatchGetContentRequest {
            content_ids: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = client
        .resolve_external_id(pb::ResolveExternalIdRequest {
            id_type: "imdb".into(),
            id_value: "tt9999999".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // grpc.health.v1: the service reports SERVING.
    let channel = tonic::transport::Channel::from_shared(s.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let h = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "mediagw.content.v1.ContentService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        h.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Reflection lists the services (what `grpcurl list` asks).
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut refl = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = refl
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"mediagw.content.v1.ContentService"),
        "{names:?}"
    );
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

/// gRPC passes the same gateway as REST (issue 22): tokens checked, the caller's tier spent per
/// call, health exempt, reflection off unless configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_calls_pass_the_gateway() {
    let mut s = Stack::new("grpcgate").await;
    s.seed_rate_limits();
    s.start("api");
    s.wait_http(&format!("{}/health/live", s.api)).await;
    let channel = tonic::transport::Endpoint::from_shared(s.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ContentServiceClient::new(channel.clone());
    let ask = || pb::GetContentRequest {
        content_id: uuid::Uuid::new_v4().to_string(),
    };

    // A bad token is refused before the service sees the call.
    let mut req = tonic::Request::new(ask());
    req.metadata_mut()
        .insert("authorization", "Bearer not-a-token".parse().unwrap());
    let e = client.get_content(req).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");

    // Anonymous callers get the anonymous tier (burst 5): then RESOURCE_EXHAUSTED.
    let mut codes = Vec::new();
    for _ in 0..8 {
        let code = match client.get_content(ask()).await {
            Ok(_) => Code::Ok,
            Err(e) => e.code(),
        };
        codes.push(code);
    }
    assert!(codes[..3].iter().all(|c| *c == Code::NotFound), "{codes:?}");
    assert_eq!(codes.last(), Some(&Code::ResourceExhausted), "{codes:?}");
    // A signed-in caller spends their own (premium) budget.
    let token = s.token(uuid::Uuid::new_v4(), "");
    let mut req = tonic::Request::new(ask());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    assert_eq!(
        client.get_content(req).await.unwrap_err().code(),
        Code::NotFound
    );
    // Health checks are never rate limited.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for _ in 0..3 {
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
    }
    // Reflection is off by default.
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut refl = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut req = tonic::Request::new(futures::stream::iter(vec![req]));
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let e = refl.server_reflection_info(req).await.unwrap_err();
    assert_eq!(e.code(), Code::Unimplemented, "{e:?}");
}
