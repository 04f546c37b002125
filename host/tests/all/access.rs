//! Who may call what (issue 22), through the real server: namespaces (env and secrets
//! inherited by a real component, history, cascade delete), public and private functions,
//! scoped API keys (every role × every route family), and invocation tokens (tampered,
//! expired, foreign, `alg: none`, rotated away).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::server::{KEY, TestServer, config, decode};

fn rpc_basic() -> Vec<u8> {
    std::fs::read(test_guests::RPC_BASIC).expect("rpc-basic component built")
}

/// What a request presents.
#[derive(Clone, Copy, Debug)]
enum Cred<'a> {
    None,
    Key(&'a str),
    Bearer(&'a str),
}

/// `method path` with `body` (JSON when not null), presenting `cred`.
async fn call(
    s: &TestServer,
    cred: Cred<'_>,
    method: Method,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let mut r = s.client.request(method, s.url(path));
    r = match cred {
        Cred::None => r,
        Cred::Key(k) => r.header("x-api-key", k),
        Cred::Bearer(t) => r.header("authorization", format!("Bearer {t}")),
    };
    if !body.is_null() {
        r = r.json(body);
    }
    decode(r.send().await.expect("request")).await
}

async fn invoke(
    s: &TestServer,
    cred: Cred<'_>,
    id: &str,
    method: &str,
    params: Value,
) -> (u16, Value) {
    call(
        s,
        cred,
        Method::POST,
        &format!("/v1/functions/{id}"),
        &json!({"method": method, "params": params}),
    )
    .await
}

/// An env variable as the function `id` sees it.
async fn env_of(s: &TestServer, id: &str, name: &str) -> Value {
    let (status, body) = invoke(s, Cred::Key(KEY), id, "env", json!([name])).await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// Creates a key with `role` for `namespaces` (null: every one), as the admin.
async fn key(s: &TestServer, role: &str, namespaces: Value) -> String {
    let (status, body) = s
        .post(
            "/v1/api/keys",
            &json!({"name": format!("{role} key"), "role": role, "namespaces": namespaces}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["role"], role);
    assert_eq!(body["namespaces"], namespaces);
    body["key"].as_str().unwrap().to_owned()
}

async fn token(s: &TestServer, cred: Cred<'_>, body: Value) -> (u16, Value) {
    call(s, cred, Method::POST, "/v1/api/tokens", &body).await
}

#[tokio::test]
async fn namespaces_share_env_and_secrets_and_cascade() {
    let s = TestServer::start().await;
    let (status, list) = s.get("/v1/api/namespaces").await;
    assert_eq!(status, 200);
    assert_eq!(list["namespaces"][0]["name"], "default", "{list}");

    let (status, shop) = s
        .post(
            "/v1/api/namespaces",
            &json!({"name": "shop", "description": "the shop", "env": {"GREETING": "from shop", "SHARED": "shop"}, "secrets": {"NS_TOKEN": "ns-secret-value"}}),
        )
        .await;
    assert_eq!(status, 201, "{shop}");
    assert_eq!(shop["secretNames"], json!(["NS_TOKEN"]));
    assert_eq!(shop["functionCount"], 0);
    assert!(!shop.to_string().contains("ns-secret-value"));
    assert_eq!(
        s.post("/v1/api/namespaces", &json!({"name": "shop"}))
            .await
            .0,
        409
    );
    for bad in [
        json!({"name": "-bad"}),
        json!({}),
        json!({"name": "ok", "env": {"1X": "v"}}),
        json!({"name": "ok", "extra": 1}),
    ] {
        assert_eq!(s.post("/v1/api/namespaces", &bad).await.0, 400, "{bad}");
    }

    // Deploy takes a namespace, which must exist.
    let (status, body) = s
        .deploy(
            "cart",
            "1.0.0",
            &rpc_basic(),
            json!({"namespace": "nowhere"}),
        )
        .await;
    assert_eq!(
        (status, body["context"]["resource"].clone()),
        (404, json!("Namespace")),
        "{body}"
    );
    let (status, body) = s
        .deploy(
            "cart",
            "1.0.0",
            &rpc_basic(),
            json!({"namespace": "shop", "env": {"SHARED": "own"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["namespace"].clone(), body["privacy"].clone()),
        (json!("shop"), json!("private"))
    );
    s.deploy("other", "1.0.0", &rpc_basic(), json!({})).await;

    // The function sees the namespace's env and secrets under its own.
    assert_eq!(env_of(&s, "cart", "GREETING").await, "from shop");
    assert_eq!(env_of(&s, "cart", "SHARED").await, "own");
    assert_eq!(env_of(&s, "cart", "NS_TOKEN").await, "ns-secret-value");
    assert_eq!(env_of(&s, "other", "GREETING").await, Value::Null);

    let (_, listed) = s.get("/v1/api/functions?namespace=shop").await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cart"]);
    assert_eq!(s.get("/v1/api/functions?namespace=-x").await.0, 400);
    assert_eq!(s.get("/v1/api/functions/cart").await.1["namespace"], "shop");
    assert_eq!(s.get("/v1/api/namespaces/shop").await.1["functionCount"], 1);
    // A deploy does not move a function to another namespace.
    let (status, body) = s
        .deploy(
            "cart",
            "1.0.1",
            &rpc_basic(),
            json!({"namespace": "default"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // A change takes effect on the next call, without a redeploy, and is in the history.
    let (status, patched) = call(
        &s,
        Cred::Key(KEY),
        Method::PATCH,
        "/v1/api/namespaces/shop",
        &json!({"env": {"GREETING": "changed", "SHARED": null}, "secrets": {"NS_TOKEN": null}}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["env"], json!({"GREETING": "changed"}));
    assert_eq!(patched["secretNames"], json!([]));
    assert_eq!(env_of(&s, "cart", "GREETING").await, "changed");
    assert_eq!(env_of(&s, "cart", "SHARED").await, "own");
    assert_eq!(env_of(&s, "cart", "NS_TOKEN").await, Value::Null);
    let (_, versions) = s.get("/v1/api/functions/cart/versions").await;
    let last = versions["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], "namespace", "{versions}");
    assert!(
        last["detail"].as_str().unwrap().contains("GREETING"),
        "{last}"
    );
    assert!(!versions.to_string().contains("ns-secret-value"));

    // Delete: refused while it holds functions, unless cascade.
    let (status, body) = s.delete("/v1/api/namespaces/shop").await;
    assert_eq!(
        (status, body["error"].clone()),
        (409, json!("CONFLICT")),
        "{body}"
    );
    assert_eq!(s.get("/v1/api/functions/cart").await.0, 200);
    assert_eq!(
        s.delete("/v1/api/namespaces/shop?cascade=maybe").await.0,
        400
    );
    let (status, body) = s.delete("/v1/api/namespaces/shop?cascade=true").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deletedFunctions"], json!(["cart"]));
    assert_eq!(s.get("/v1/api/functions/cart").await.0, 404);
    assert_eq!(s.get("/v1/api/functions/cart/versions").await.0, 404);
    assert_eq!(
        invoke(&s, Cred::Key(KEY), "cart", "env", json!(["GREETING"]))
            .await
            .0,
        404
    );
    assert_eq!(s.get("/v1/api/namespaces/shop").await.0, 404);
    assert_eq!(s.get("/v1/api/functions/other").await.0, 200);
    assert_eq!(s.delete("/v1/api/namespaces/default").await.0, 400);
    // The id is free again, in any namespace.
    assert_eq!(
        s.deploy("cart", "1.0.0", &rpc_basic(), json!({})).await.0,
        200
    );
}

/// Component files in the server's blob store.
fn stored_components(s: &TestServer) -> usize {
    let root = s.data_dir.join("components").join("sha256");
    let Ok(shards) = std::fs::read_dir(&root) else {
        return 0;
    };
    shards
        .flat_map(|shard| std::fs::read_dir(shard.unwrap().path()).unwrap())
        .filter(|f| {
            f.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "wasm")
        })
        .count()
}

/// Waits (bounded) until the blob store holds `n` components: the collection runs after the
/// delete has answered, off the request path.
async fn wait_for_stored_components(s: &TestServer, n: usize) {
    for _ in 0..600 {
        if stored_components(s) == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored_components(s),
        n,
        "component files left in the blob store"
    );
}

#[tokio::test]
async fn deletes_reclaim_component_bytes_a_refused_deploy_left_behind() {
    let s = TestServer::start().await;
    let hello = std::fs::read(test_guests::HELLO).expect("hello component built");
    assert_eq!(
        s.post("/v1/api/namespaces", &json!({"name": "shop"}))
            .await
            .0,
        201
    );
    // A deploy refused after its bytes were stored (a function does not change namespace)
    // leaves bytes no version references; a delete of the function then reclaims them too.
    assert_eq!(
        s.deploy("solo", "1.0.0", &rpc_basic(), json!({})).await.0,
        200
    );
    let (status, body) = s
        .deploy("solo", "1.0.1", &hello, json!({"namespace": "shop"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(stored_components(&s), 2);
    assert_eq!(s.delete("/v1/api/functions/solo").await.0, 200);
    wait_for_stored_components(&s, 0).await;

    // The same through a cascading namespace delete.
    let (status, body) = s
        .deploy("cart", "1.0.0", &rpc_basic(), json!({"namespace": "shop"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.deploy("cart", "1.0.1", &hello, json!({"namespace": "default"}))
            .await
            .0,
        409
    );
    assert_eq!(stored_components(&s), 2);
    let (status, body) = s.delete("/v1/api/namespaces/shop?cascade=true").await;
    assert_eq!(status, 200, "{body}");
    wait_for_stored_components(&s, 0).await;
}

#[tokio::test]
async fn public_functions_need_no_credential_and_are_still_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.rate_limit_function = 3;
    c.rate_limit_ip = 1000;
    let s = TestServer::start_with(c).await;
    let (status, body) = s
        .deploy("open", "1.0.0", &rpc_basic(), json!({"privacy": "public"}))
        .await;
    assert_eq!(
        (status, body["privacy"].clone()),
        (200, json!("public")),
        "{body}"
    );
    s.deploy("closed", "1.0.0", &rpc_basic(), json!({})).await;

    assert_eq!(
        invoke(&s, Cred::None, "open", "add", json!([2, 3])).await,
        (200, json!({"result": 5}))
    );
    let (status, body) = invoke(&s, Cred::None, "closed", "add", json!([2, 3])).await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Missing API key"))
    );
    // An unknown id answers as a private function does: no credential says nothing about ids.
    assert_eq!(
        invoke(&s, Cred::None, "ghost", "add", json!([])).await.1["message"],
        "Missing API key"
    );
    // A credential that is presented is checked, even for a public function.
    assert_eq!(
        invoke(&s, Cred::Key("fdo_wrong"), "open", "add", json!([1, 1]))
            .await
            .0,
        401
    );
    // Managing a public function still needs a key.
    assert_eq!(
        call(
            &s,
            Cred::None,
            Method::GET,
            "/v1/api/functions/open",
            &Value::Null
        )
        .await
        .0,
        401
    );
    assert_eq!(
        call(
            &s,
            Cred::None,
            Method::GET,
            "/v1/functions/open/logs",
            &Value::Null
        )
        .await
        .0,
        401
    );
    // The per-function limit (3 per window) counts anonymous calls: one above, two more here.
    for _ in 0..2 {
        assert_eq!(
            invoke(&s, Cred::None, "open", "add", json!([1, 1])).await.0,
            200
        );
    }
    let (status, body) = invoke(&s, Cred::None, "open", "add", json!([1, 1])).await;
    assert_eq!(status, 429, "{body}");

    // PATCH changes privacy without a new version, recorded in the history.
    let patch = |id: &'static str, privacy: Value| {
        let s = &s;
        async move {
            call(
                s,
                Cred::Key(KEY),
                Method::PATCH,
                &format!("/v1/api/functions/{id}"),
                &json!({"privacy": privacy}),
            )
            .await
        }
    };
    let (status, body) = patch("closed", json!("public")).await;
    assert_eq!(
        (status, body["privacy"].clone(), body["version"].clone()),
        (200, json!("public"), json!("1.0.0")),
        "{body}"
    );
    assert_eq!(
        invoke(&s, Cred::None, "closed", "add", json!([2, 2])).await,
        (200, json!({"result": 4}))
    );
    let (_, versions) = s.get("/v1/api/functions/closed/versions").await;
    let history = versions["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{versions}");
    assert_eq!(
        (history[1]["action"].clone(), history[1]["detail"].clone()),
        (json!("privacy"), json!("private -> public"))
    );
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1);
    for bad in [json!("open"), json!(1), Value::Null] {
        assert_eq!(patch("closed", bad.clone()).await.0, 400, "{bad}");
    }
    assert_eq!(patch("ghost", json!("public")).await.0, 404);
    assert_eq!(patch("closed", json!("private")).await.0, 200);
    assert_eq!(
        invoke(&s, Cred::None, "closed", "add", json!([2, 2]))
            .await
            .0,
        401
    );
}

/// A route family and the request that stands for it.
struct Family {
    name: &'static str,
    method: Method,
    path: &'static str,
    body: Value,
}

fn families() -> Vec<Family> {
    let f = |name, method, path, body| Family {
        name,
        method,
        path,
        body,
    };
    let cart = json!({"id": "cart", "version": "1.0.0", "language": "rust", "entryPoint": "src/lib.rs", "dependencies": {}, "code": base64::engine::general_purpose::STANDARD.encode(rpc_basic()), "namespace": "shop"});
    let invoice = json!({"id": "invoice", "version": "1.0.0", "language": "rust", "entryPoint": "src/lib.rs", "dependencies": {}, "code": base64::engine::general_purpose::STANDARD.encode(rpc_basic()), "namespace": "billing"});
    vec![
        f(
            "invoke",
            Method::POST,
            "/v1/functions/cart",
            json!({"method": "add", "params": [1, 2]}),
        ),
        f("info", Method::GET, "/v1/api/functions/cart", Value::Null),
        f(
            "versions",
            Method::GET,
            "/v1/api/functions/cart/versions",
            Value::Null,
        ),
        f("logs", Method::GET, "/v1/functions/cart/logs", Value::Null),
        f(
            "stats",
            Method::GET,
            "/v1/api/functions/cart/stats",
            Value::Null,
        ),
        f("deploy", Method::POST, "/v1/api/functions", cart),
        f(
            "privacy",
            Method::PATCH,
            "/v1/api/functions/cart",
            json!({"privacy": "private"}),
        ),
        f(
            "rollback",
            Method::POST,
            "/v1/api/functions/cart/rollback",
            json!({"version": "1.0.0"}),
        ),
        f(
            "token",
            Method::POST,
            "/v1/api/tokens",
            json!({"functionId": "cart"}),
        ),
        f(
            "namespace-read",
            Method::GET,
            "/v1/api/namespaces/shop",
            Value::Null,
        ),
        f(
            "namespace-update",
            Method::PATCH,
            "/v1/api/namespaces/shop",
            json!({"description": "shop"}),
        ),
        f("keys", Method::GET, "/v1/api/keys", Value::Null),
        f("metrics", Method::GET, "/metrics", Value::Null),
        // The same, on a function outside the shop.
        f(
            "invoke-billing",
            Method::POST,
            "/v1/functions/invoice",
            json!({"method": "add", "params": [1, 2]}),
        ),
        f(
            "info-billing",
            Method::GET,
            "/v1/api/functions/invoice",
            Value::Null,
        ),
        f("deploy-billing", Method::POST, "/v1/api/functions", invoice),
        f(
            "token-billing",
            Method::POST,
            "/v1/api/tokens",
            json!({"functionId": "invoice"}),
        ),
        f(
            "namespace-billing",
            Method::GET,
            "/v1/api/namespaces/billing",
            Value::Null,
        ),
    ]
}

#[tokio::test]
async fn every_role_on_every_route_family() {
    let s = TestServer::start().await;
    for ns in ["shop", "billing"] {
        assert_eq!(
            s.post("/v1/api/namespaces", &json!({"name": ns})).await.0,
            201
        );
    }
    for f in families()
        .into_iter()
        .filter(|f| f.name.starts_with("deploy"))
    {
        assert_eq!(
            call(&s, Cred::Key(KEY), f.method, f.path, &f.body).await.0,
            200
        );
    }
    let shop = json!(["shop"]);
    let admin_shop = key(&s, "admin", shop.clone()).await;
    let deploy_shop = key(&s, "deploy", shop.clone()).await;
    let invoke_shop = key(&s, "invoke", shop.clone()).await;
    let read_shop = key(&s, "read", shop.clone()).await;
    let read_all = key(&s, "read", Value::Null).await;
    let (_, t) = token(&s, Cred::Key(KEY), json!({"functionId": "cart"})).await;
    let cart_token = t["token"].as_str().unwrap().to_owned();

    // Expected status per family, for: host admin key, admin@shop, deploy@shop, invoke@shop,
    // read@shop, read@all, cart's token, no credential, an unknown key.
    let creds = [
        ("admin", Cred::Key(KEY)),
        ("admin@shop", Cred::Key(&admin_shop)),
        ("deploy@shop", Cred::Key(&deploy_shop)),
        ("invoke@shop", Cred::Key(&invoke_shop)),
        ("read@shop", Cred::Key(&read_shop)),
        ("read@all", Cred::Key(&read_all)),
        ("token(cart)", Cred::Bearer(&cart_token)),
        ("none", Cred::None),
        ("unknown", Cred::Key("fdo_unknown")),
    ];
    #[rustfmt::skip]
    let expected: &[(&str, [u16; 9])] = &[
        //                     admin a@shop d@shop i@shop r@shop r@all token none unknown
        ("invoke",            [200,  200,   403,   200,   403,   403,  200,  401, 401]),
        ("info",              [200,  200,   200,   403,   200,   200,  403,  401, 401]),
        ("versions",          [200,  200,   200,   403,   200,   200,  403,  401, 401]),
        ("logs",              [200,  200,   200,   403,   200,   200,  403,  401, 401]),
        ("stats",             [200,  200,   200,   403,   200,   200,  403,  401, 401]),
        ("deploy",            [200,  200,   200,   403,   403,   403,  403,  401, 401]),
        ("privacy",           [200,  200,   200,   403,   403,   403,  403,  401, 401]),
        ("rollback",          [200,  200,   200,   403,   403,   403,  403,  401, 401]),
        ("token",             [201,  201,   403,   201,   403,   403,  403,  401, 401]),
        ("namespace-read",    [200,  200,   200,   403,   200,   200,  403,  401, 401]),
        ("namespace-update",  [200,  200,   403,   403,   403,   403,  403,  401, 401]),
        ("keys",              [200,  200,   403,   403,   403,   403,  403,  401, 401]),
        ("metrics",           [200,  403,   403,   403,   403,   200,  403,  401, 401]),
        ("invoke-billing",    [200,  404,   404,   404,   404,   403,  403,  401, 401]),
        ("info-billing",      [200,  404,   404,   404,   404,   200,  403,  401, 401]),
        ("deploy-billing",    [200,  404,   404,   404,   404,   403,  403,  401, 401]),
        ("token-billing",     [201,  404,   404,   404,   404,   403,  403,  401, 401]),
        ("namespace-billing", [200,  404,   404,   404,   404,   200,  403,  401, 401]),
    ];
    let families = families();
    let mut failures = Vec::new();
    for (family, statuses) in expected {
        let f = families.iter().find(|f| f.name == *family).unwrap();
        for ((who, cred), want) in creds.iter().zip(statuses) {
            let (got, body) = call(&s, *cred, f.method.clone(), f.path, &f.body).await;
            if got != *want {
                failures.push(format!("{family} as {who}: {got} (expected {want}) {body}"));
            }
            // A 403 says what the credential lacks; a 404 looks like any unknown id.
            if got == 403 {
                assert_eq!(body["error"], "FORBIDDEN", "{family} as {who}: {body}");
                assert!(
                    body["message"].as_str().unwrap().starts_with("this "),
                    "{body}"
                );
            }
            if got == 404 {
                assert_eq!(body["error"], "NOT_FOUND", "{family} as {who}: {body}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The 403 names the role and what the action needs.
    let (_, body) = call(
        &s,
        Cred::Key(&invoke_shop),
        Method::POST,
        "/v1/api/functions",
        &families.iter().find(|f| f.name == "deploy").unwrap().body,
    )
    .await;
    assert_eq!(
        body["message"],
        "this key has role invoke; deploying (and rollback, privacy, delete) needs deploy or admin"
    );
    // Lists never reveal what a key may not see.
    for who in [&admin_shop, &read_shop] {
        let (_, list) = call(
            &s,
            Cred::Key(who),
            Method::GET,
            "/v1/api/functions",
            &Value::Null,
        )
        .await;
        assert_eq!(
            list.as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["cart"]
        );
        let (_, list) = call(
            &s,
            Cred::Key(who),
            Method::GET,
            "/v1/api/namespaces",
            &Value::Null,
        )
        .await;
        assert_eq!(
            list["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["name"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["shop"]
        );
        let (_, stats) = call(
            &s,
            Cred::Key(who),
            Method::GET,
            "/v1/api/stats",
            &Value::Null,
        )
        .await;
        assert_eq!(stats["functions"].as_array().unwrap().len(), 1, "{stats}");
    }
    let (_, list) = call(
        &s,
        Cred::Key(&read_all),
        Method::GET,
        "/v1/api/functions",
        &Value::Null,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Nobody creates a key with more rights than their own.
    let create = |who: &str, role: &str, namespaces: Value| {
        let (s, who) = (&s, who.to_owned());
        let body = json!({"name": "k", "role": role, "namespaces": namespaces});
        async move { call(s, Cred::Key(&who), Method::POST, "/v1/api/keys", &body).await }
    };
    assert_eq!(create(&admin_shop, "invoke", json!(["shop"])).await.0, 201);
    let (status, body) = create(&admin_shop, "invoke", Value::Null).await;
    assert_eq!(
        (status, body["error"].clone()),
        (403, json!("FORBIDDEN")),
        "{body}"
    );
    assert_eq!(
        create(&admin_shop, "read", json!(["shop", "billing"]))
            .await
            .0,
        403
    );
    assert_eq!(create(&deploy_shop, "read", json!(["shop"])).await.0, 403);
    assert_eq!(create(&read_all, "read", Value::Null).await.0, 403);
    assert_eq!(
        call(
            &s,
            Cred::Bearer(&cart_token),
            Method::POST,
            "/v1/api/keys",
            &json!({"name": "k"})
        )
        .await
        .0,
        403
    );
    assert_eq!(create(KEY, "read", json!(["nowhere"])).await.0, 404);
    for (role, namespaces) in [
        ("root", Value::Null),
        ("read", json!([])),
        ("read", json!("shop")),
        ("read", json!(["-x"])),
    ] {
        assert_eq!(
            create(KEY, role, namespaces.clone()).await.0,
            400,
            "{role} {namespaces}"
        );
    }
    // A restricted admin lists and revokes the keys within its namespaces only.
    let (_, keys) = call(
        &s,
        Cred::Key(&admin_shop),
        Method::GET,
        "/v1/api/keys",
        &Value::Null,
    )
    .await;
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["namespaces"] == json!(["shop"])),
        "{keys}"
    );
    let (_, all_keys) = s.get("/v1/api/keys").await;
    let read_all_id = all_keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["role"] == "read" && k["namespaces"].is_null())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        call(
            &s,
            Cred::Key(&admin_shop),
            Method::DELETE,
            &format!("/v1/api/keys/{read_all_id}"),
            &Value::Null
        )
        .await
        .0,
        404
    );
    // An invoke key issues tokens only for what it may call.
    let (status, t) = token(&s, Cred::Key(&invoke_shop), json!({"namespace": "shop"})).await;
    assert_eq!(status, 201, "{t}");
    assert_eq!(
        token(&s, Cred::Key(&invoke_shop), json!({"namespace": "billing"}))
            .await
            .0,
        404
    );
    // Bearer works for keys too.
    assert_eq!(
        call(
            &s,
            Cred::Bearer(&read_shop),
            Method::GET,
            "/v1/api/functions/cart",
            &Value::Null
        )
        .await
        .0,
        200
    );
}

/// `token` with its payload edited (signature kept).
fn edit_payload(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut payload);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn tokens_call_their_scope_only_until_rotated() {
    let s = TestServer::start().await;
    for ns in ["shop", "billing"] {
        assert_eq!(
            s.post("/v1/api/namespaces", &json!({"name": ns})).await.0,
            201
        );
    }
    for (id, ns) in [
        ("cart", "shop"),
        ("checkout", "shop"),
        ("invoice", "billing"),
    ] {
        assert_eq!(
            s.deploy(id, "1.0.0", &rpc_basic(), json!({"namespace": ns}))
                .await
                .0,
            200
        );
    }
    let in_an_hour =
        fdo::model::Timestamp::from_millis(fdo::model::Timestamp::now().as_millis() + 3_600_000);
    let (status, issued) = token(
        &s,
        Cred::Key(KEY),
        json!({"functionId": "cart", "expiresAt": in_an_hour.to_iso8601()}),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(
        issued["scope"],
        json!({"namespace": "shop", "functionId": "cart"})
    );
    let cart = issued["token"].as_str().unwrap().to_owned();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(cart.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let (_, issued) = token(&s, Cred::Key(KEY), json!({"namespace": "shop"})).await;
    let whole_shop = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(issued["expiresAt"], Value::Null);
    for bad in [
        json!({}),
        json!({"functionId": "cart", "namespace": "shop"}),
        json!({"functionId": "cart", "expiresAt": "2001-01-01T00:00:00Z"}),
        json!({"functionId": "-x"}),
    ] {
        assert_eq!(token(&s, Cred::Key(KEY), bad.clone()).await.0, 400, "{bad}");
    }
    assert_eq!(
        token(&s, Cred::Key(KEY), json!({"functionId": "ghost"}))
            .await
            .0,
        404
    );

    let ok = |r: (u16, Value)| r == (200, json!({"result": 3}));
    assert!(ok(invoke(
        &s,
        Cred::Bearer(&cart),
        "cart",
        "add",
        json!([1, 2])
    )
    .await));
    assert!(ok(call(
        &s,
        Cred::Bearer(&cart),
        Method::POST,
        "/v1/functions/cart/invoke",
        &json!({"method": "add", "params": [1, 2]})
    )
    .await));
    // Another function's, another namespace's: forbidden.
    let (status, body) = invoke(&s, Cred::Bearer(&cart), "checkout", "add", json!([1, 2])).await;
    assert_eq!(
        (status, body["message"].clone()),
        (403, json!("this token may only call function cart"))
    );
    assert_eq!(
        invoke(&s, Cred::Bearer(&cart), "invoice", "add", json!([1, 2]))
            .await
            .0,
        403
    );
    assert!(ok(invoke(
        &s,
        Cred::Bearer(&whole_shop),
        "checkout",
        "add",
        json!([1, 2])
    )
    .await));
    assert_eq!(
        invoke(
            &s,
            Cred::Bearer(&whole_shop),
            "invoice",
            "add",
            json!([1, 2])
        )
        .await
        .0,
        403
    );
    // Never management.
    assert_eq!(
        call(
            &s,
            Cred::Bearer(&cart),
            Method::GET,
            "/v1/api/functions/cart",
            &Value::Null
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            &s,
            Cred::Bearer(&cart),
            Method::GET,
            "/v1/functions/cart/logs",
            &Value::Null
        )
        .await
        .0,
        403
    );
    assert_eq!(
        token(&s, Cred::Bearer(&cart), json!({"functionId": "cart"}))
            .await
            .0,
        403
    );

    // Tampered, forged, expired: 401 Invalid token.
    let invalid = |t: String| {
        let s = &s;
        async move {
            let (status, body) = invoke(s, Cred::Bearer(&t), "cart", "add", json!([1, 2])).await;
            assert_eq!(
                (status, body["message"].clone()),
                (401, json!("Invalid token")),
                "{t}: {body}"
            );
        }
    };
    invalid(edit_payload(&cart, |p| p["fn"] = json!("checkout"))).await;
    invalid(edit_payload(&cart, |p| {
        p["exp"] = json!(p["exp"].as_i64().unwrap() + 3600)
    }))
    .await;
    invalid(edit_payload(&whole_shop, |p| p["ns"] = json!("billing"))).await;
    let mut flipped = cart.clone().into_bytes();
    let at = flipped.len() - 3;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    invalid(String::from_utf8(flipped).unwrap()).await;
    let payload = cart.split('.').nth(1).unwrap();
    for alg in ["none", "HS256"] {
        let kid = header["kid"].clone();
        let h = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&json!({"alg": alg, "typ": "JWT", "kid": kid})).unwrap());
        invalid(format!("{h}.{payload}.")).await;
        invalid(format!("{h}.{payload}.c2ln")).await;
    }
    // Expired: signed by the host with an expiry in the past (the API refuses to issue one).
    let past = fdo::model::Timestamp::from_millis(fdo::model::Timestamp::now().as_millis() - 1000);
    let expired = s
        .app
        .host
        .issue_token(
            fdo::model::access::TokenScope::Namespace("shop".into()),
            Some(past),
        )
        .await
        .unwrap();
    invalid(expired.token).await;

    // Rotation: every token signed before stops working at once; new ones work.
    let (status, body) = s
        .post("/v1/api/namespaces/shop/rotate-token-key", &Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    invalid(cart.clone()).await;
    invalid(whole_shop.clone()).await;
    let (_, issued) = token(&s, Cred::Key(KEY), json!({"functionId": "cart"})).await;
    assert!(ok(invoke(
        &s,
        Cred::Bearer(issued["token"].as_str().unwrap()),
        "cart",
        "add",
        json!([1, 2])
    )
    .await));
    // Billing's tokens are untouched by shop's rotation.
    let (_, issued) = token(&s, Cred::Key(KEY), json!({"functionId": "invoice"})).await;
    assert!(ok(invoke(
        &s,
        Cred::Bearer(issued["token"].as_str().unwrap()),
        "invoice",
        "add",
        json!([1, 2])
    )
    .await));
    assert_eq!(
        s.post("/v1/api/namespaces/ghost/rotate-token-key", &Value::Null)
            .await
            .0,
        404
    );
}

/// The CLI end to end against a real `fdo serve`: namespaces, a deploy into one, an invoke-only
/// key for it, a token from `fdo tokens issue` used with curl's header, a public function.
#[test]
fn cli_namespaces_keys_and_tokens() {
    use crate::support::process::{HostProcess, run};
    let host = HostProcess::start(&[]);
    let created = host.fdo(&[
        "namespaces",
        "create",
        "shop",
        "--env",
        "CURRENCY=EUR",
        "--secret",
        "SHOP_SECRET=s3cr3t-value",
        "--json",
    ]);
    let ns = created.json();
    assert_eq!(
        (ns["name"].clone(), ns["secretNames"].clone()),
        (json!("shop"), json!(["SHOP_SECRET"]))
    );
    assert!(!created.stdout.contains("s3cr3t-value"));
    for (id, privacy) in [("cart", "private"), ("catalog", "public")] {
        host.fdo(&[
            "deploy",
            test_guests::RPC_BASIC,
            "--id",
            id,
            "--version",
            "1.0.0",
            "--namespace",
            "shop",
            "--privacy",
            privacy,
        ])
        .ok();
    }
    let listed = host.fdo(&["namespaces", "list"]);
    assert!(
        listed
            .ok()
            .lines()
            .any(|l| l.starts_with("shop") && l.contains(" 2 ")),
        "{}",
        listed.stdout
    );
    host.fdo(&[
        "namespaces",
        "update",
        "shop",
        "--env",
        "CURRENCY=USD",
        "--unset-secret",
        "SHOP_SECRET",
    ])
    .ok();
    let shown = host.fdo(&["namespaces", "show", "shop", "--json"]).json();
    assert_eq!(
        (shown["env"].clone(), shown["secretNames"].clone()),
        (json!({"CURRENCY": "USD"}), json!([]))
    );

    // An invoke-only key for the shop: it calls, it does not deploy, it issues tokens.
    let key = host.fdo(&[
        "keys",
        "create",
        "--name",
        "svc",
        "--role",
        "invoke",
        "--namespace",
        "shop",
    ]);
    let key = key.ok().trim().to_owned();
    let as_service = |args: &[&str]| {
        run(
            args,
            &[
                ("FDO_URL", host.url.as_str()),
                ("FDO_API_KEY", key.as_str()),
            ],
            None,
        )
    };
    assert_eq!(
        as_service(&["invoke", "cart", "env", "CURRENCY"])
            .ok()
            .trim(),
        "USD"
    );
    let refused = as_service(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "cart",
        "--version",
        "2.0.0",
    ]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("this key has role invoke"),
        "{}",
        refused.stderr
    );
    let listed = host.fdo(&["keys", "list"]);
    assert!(
        listed
            .ok()
            .lines()
            .any(|l| l.contains("svc") && l.contains("invoke") && l.contains("shop")),
        "{}",
        listed.stdout
    );

    // `fdo tokens issue` prints the token alone; it calls cart over plain HTTP and nothing else.
    let token = as_service(&[
        "tokens",
        "issue",
        "--function",
        "cart",
        "--expires-in",
        "1h",
    ]);
    let token = token.ok().trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let call = |id: &str, bearer: Option<&str>| {
        let mut r = client
            .post(format!("{}/v1/functions/{id}", host.url))
            .json(&json!({"method": "add", "params": [2, 3]}));
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        rt.block_on(async { decode(r.send().await.unwrap()).await })
    };
    assert_eq!(call("cart", Some(&token)), (200, json!({"result": 5})));
    assert_eq!(call("cart", None).0, 401);
    assert_eq!(call("catalog", None), (200, json!({"result": 5})));
    host.fdo(&[
        "deploy",
        test_guests::RPC_BASIC,
        "--id",
        "other",
        "--version",
        "1.0.0",
    ])
    .ok();
    assert_eq!(call("other", Some(&token)).0, 403);
    host.fdo(&["namespaces", "rotate-token-key", "shop"]).ok();
    assert_eq!(call("cart", Some(&token)).0, 401);

    // A manifest declares namespaces and puts functions in them.
    let project = tempfile::tempdir().unwrap();
    let manifest = project.path().join("fdo.toml");
    std::fs::write(
        &manifest,
        format!(
            "[namespaces.docs]\ndescription = \"docs\"\nenv = {{ SITE = \"example.org\" }}\n\n[functions.search]\nversion = \"1.0.0\"\ncomponent = {:?}\nlanguage = \"rust\"\nnamespace = \"docs\"\nprivacy = \"public\"\n",
            test_guests::RPC_BASIC
        ),
    )
    .unwrap();
    let deployed = host.fdo(&["deploy", manifest.to_str().unwrap()]);
    assert!(
        deployed.ok().contains("created namespace docs"),
        "{}",
        deployed.stdout
    );
    assert!(
        host.fdo(&["deploy", manifest.to_str().unwrap()])
            .ok()
            .contains("updated namespace docs")
    );
    let info = host.fdo(&["info", "search", "--json"]).json();
    assert_eq!(
        (info["namespace"].clone(), info["privacy"].clone()),
        (json!("docs"), json!("public"))
    );
    let (status, body) = rt.block_on(async {
        decode(
            client
                .post(format!("{}/v1/functions/search", host.url))
                .json(&json!({"method": "env", "params": ["SITE"]}))
                .send()
                .await
                .unwrap(),
        )
        .await
    });
    assert_eq!((status, body), (200, json!({"result": "example.org"})));

    let refused = host.fdo(&["namespaces", "delete", "shop"]);
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stderr.contains("CONFLICT"), "{}", refused.stderr);
    assert!(
        host.fdo(&["namespaces", "delete", "shop", "--cascade"])
            .ok()
            .contains("2 functions")
    );
    assert_eq!(host.fdo(&["info", "cart"]).code, 1);
}
