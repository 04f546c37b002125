//! The fake DigitalOcean API keeps the contract of the API description: the droplet
//! controller's end-to-end tests are only as good as this double.

use crate::support::fake_digitalocean::{self, FakeDigitalOcean, RATE_LIMIT_RESET, TOKEN};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sends `method url` with the fake's token (or `token`), returns status, headers and JSON.
async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status();
    let headers = response.headers().clone();
    let value = response.json().await.expect("the fake answers JSON");
    (status, headers, value)
}

async fn get(url: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(reqwest::Method::GET, url, Some(TOKEN), None).await;
    (status, body)
}

fn ids(body: &Value) -> Vec<u64> {
    body["droplets"]
        .as_array()
        .expect("droplets array")
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn lists_every_droplet_on_one_default_page() {
    let fake = FakeDigitalOcean::start();
    let (status, body) = get(&format!("{}/v2/droplets", fake.base_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body).len(), 7);
    assert_eq!(body["meta"]["total"], 7);
    assert_eq!(body["links"]["pages"], json!({}));
    assert_eq!(body["droplets"][0], fake_digitalocean::droplets()[0]);
}

#[tokio::test]
async fn pages_link_to_each_other_and_cover_the_list_once() {
    let fake = FakeDigitalOcean::start();
    let first = format!("{}/v2/droplets?page=1&per_page=3", fake.base_url());
    let (_, page1) = get(&first).await;
    assert_eq!(page1["meta"]["total"], 7);
    assert_eq!(
        page1["links"]["pages"],
        json!({
            "next": format!("{}/v2/droplets?page=2&per_page=3", fake.base_url()),
            "last": format!("{}/v2/droplets?page=3&per_page=3", fake.base_url()),
        })
    );
    let (_, page2) = get(page1["links"]["pages"]["next"].as_str().unwrap()).await;
    assert_eq!(page2["links"]["pages"]["prev"], first);
    let (_, page3) = get(page2["links"]["pages"]["next"].as_str().unwrap()).await;
    assert!(page3["links"]["pages"].get("next").is_none());
    assert_eq!(page3["links"]["pages"]["first"], first);
    let all: Vec<u64> = [&page1, &page2, &page3]
        .iter()
        .flat_map(|page| ids(page))
        .collect();
    let expected: Vec<u64> = fake_digitalocean::droplets()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(all, expected);

    let (_, beyond) = get(&format!(
        "{}/v2/droplets?page=9&per_page=3",
        fake.base_url()
    ))
    .await;
    assert!(ids(&beyond).is_empty());
}

#[tokio::test]
async fn tag_filtering_and_the_page_size_cap() {
    let fake = FakeDigitalOcean::start();
    let (_, web) = get(&format!("{}/v2/droplets?tag_name=web", fake.base_url())).await;
    assert_eq!(ids(&web), vec![3_164_444, 3_164_459, 3_164_464]);
    assert_eq!(web["meta"]["total"], 3);
    let (_, prod) = get(&format!(
        "{}/v2/droplets?tag_name=env%3Aprod",
        fake.base_url()
    ))
    .await;
    assert_eq!(prod["meta"]["total"], 4);

    fake.set_max_per_page(2);
    let (_, capped) = get(&format!(
        "{}/v2/droplets?tag_name=web&per_page=50",
        fake.base_url()
    ))
    .await;
    assert_eq!(ids(&capped).len(), 2);
    assert_eq!(
        capped["links"]["pages"]["next"],
        format!(
            "{}/v2/droplets?page=2&per_page=2&tag_name=web",
            fake.base_url()
        )
    );

    let (status, body) = get(&format!("{}/v2/droplets?per_page=zero", fake.base_url())).await;
    assert_eq!(
        (status, body["id"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
}

#[tokio::test]
async fn gets_one_droplet_or_404() {
    let fake = FakeDigitalOcean::start();
    let (status, body) = get(&format!("{}/v2/droplets/3164462", fake.base_url())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["droplet"]["name"], "db-primary");
    for id in ["999", "abc"] {
        let (status, body) = get(&format!("{}/v2/droplets/{id}", fake.base_url())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["id"], "not_found");
        assert!(body["request_id"].is_string());
    }
}

#[tokio::test]
async fn actions_start_or_are_refused_with_422() {
    let fake = FakeDigitalOcean::start();
    let base = fake.base_url().to_owned();
    let post = |id: u64, body: Value| {
        let url = format!("{base}/v2/droplets/{id}/actions");
        async move { call(reqwest::Method::POST, &url, Some(TOKEN), Some(body)).await }
    };

    let (status, _, body) = post(3_164_461, json!({"type": "power_on"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["action"]["type"], "power_on");
    assert_eq!(body["action"]["status"], "in-progress");
    assert_eq!(body["action"]["resource_id"], 3_164_461);
    assert_eq!(body["action"]["region_slug"], "sfo3");

    let (status, _, body) = post(3_164_444, json!({"type": "power_on"})).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Droplet is already powered on.")
        )
    );
    let (status, _, body) = post(3_164_444, json!({"type": "explode"})).await;
    assert_eq!(
        (status, body["id"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unprocessable_entity")
        )
    );
    let (status, _, _) = post(3_164_444, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = post(1, json!({"type": "power_off"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let recorded = fake.requests();
    assert_eq!(recorded.len(), 5);
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, "/v2/droplets/3164461/actions");
    assert_eq!(
        serde_json::from_str::<Value>(&recorded[0].body).unwrap(),
        json!({"type": "power_on"})
    );
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_recorded() {
    let fake = FakeDigitalOcean::start();
    let url = format!("{}/v2/droplets?tag_name=web", fake.base_url());
    for token in [None, Some("wrong")] {
        let (status, headers, body) = call(reqwest::Method::GET, &url, token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            json!({"id": "unauthorized", "message": "Unable to authenticate you"})
        );
        assert!(headers.contains_key("ratelimit-remaining"));
    }
    let recorded = fake.requests();
    assert_eq!(recorded[0].authorization, None);
    assert_eq!(recorded[1].authorization.as_deref(), Some("Bearer wrong"));
    assert_eq!(recorded[1].query_param("tag_name").as_deref(), Some("web"));
}

#[tokio::test]
async fn the_rate_limit_switch_answers_429_with_headers() {
    let fake = FakeDigitalOcean::start();
    fake.set_rate_limited(true);
    let url = format!("{}/v2/droplets", fake.base_url());
    let (status, headers, body) = call(reqwest::Method::GET, &url, Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["id"], "too_many_requests");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(
        headers["ratelimit-reset"],
        RATE_LIMIT_RESET.to_string().as_str()
    );
    fake.set_rate_limited(false);
    let (status, _) = get(&url).await;
    assert_eq!(status, StatusCode::OK);
}
