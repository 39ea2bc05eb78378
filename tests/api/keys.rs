//! Signing keys: generated once and shared through the store, published at
//! `/.well-known/jwks.json` to any origin, rotated by `latchkey keys rotate`.

use latchkey::domain::store::KeyStore;
use serde_json::Value;

use crate::helpers::{Backend, Options, database_url, parts, rotate_keys, spawn_on};

fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn jwks_publishes_one_rs256_key_to_any_origin(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let app = spawn_on(&url, dir, Options::default()).await;
    let resp = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("Origin", "http://any-site.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://any-site.example"
    );
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let (_, body) = parts(resp).await;
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = keys[0].as_object().unwrap();
    assert_eq!(
        k.keys().collect::<Vec<_>>(),
        ["kty", "use", "alg", "kid", "n", "e"]
    );
    assert_eq!(
        (
            k["kty"].as_str(),
            k["use"].as_str(),
            k["alg"].as_str(),
            k["e"].as_str()
        ),
        (Some("RSA"), Some("sig"), Some("RS256"), Some("AQAB"))
    );
    assert_eq!(
        k["n"].as_str().unwrap().len(),
        342,
        "2048-bit modulus, base64url"
    );
    assert!(!body.to_string().contains("PRIVATE"), "no private material");
}

async fn keys_survive_restarts_and_rotation_keeps_the_previous(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let first = spawn_on(&url, tempfile::tempdir().unwrap(), Options::default()).await;
    let original = kids(&first.jwks().await);
    first.stop().await;
    let app = spawn_on(&url, dir, Options::default()).await;
    assert_eq!(
        kids(&app.jwks().await),
        original,
        "the same key after a restart"
    );

    let printed = rotate_keys(&url, None).await;
    let rotated = kids(&app.jwks().await);
    assert_eq!(rotated.len(), 2);
    assert_eq!(rotated[1], original[0], "the previous key stays published");
    assert!(printed.contains(&rotated[0]), "{printed}");
    let active = app.store.signing_keys().await.unwrap();
    assert_eq!(active.iter().filter(|k| k.retired_at.is_none()).count(), 1);
}

async fn another_instance_accepts_a_freshly_rotated_key_at_once(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    // Instances behind one public URL share the issuer.
    let shared = || Options::args(&["--issuer", "https://id.example.test/"]);
    let a = spawn_on(&url, dir, shared()).await;
    a.signed_up("rotation@example.com").await;
    // A signs and verifies with the first key, so it holds that key set.
    let before = a.login("rotation@example.com", "openid").await;
    let (status, _) = parts(a.userinfo(before["access_token"].as_str().unwrap()).await).await;
    assert_eq!(status, 200);
    rotate_keys(&url, None).await;
    // A new instance signs with the new key; A has not re-read its keys yet, and must do so
    // when it meets the unknown kid rather than refuse the token.
    let b = spawn_on(&url, tempfile::tempdir().unwrap(), shared()).await;
    let after = b.login("rotation@example.com", "openid").await;
    let token = after["access_token"].as_str().unwrap();
    let (status, body) = parts(a.userinfo(token).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["sub"].as_str().map(|s| s.starts_with("auth0|")),
        Some(true)
    );
    b.stop().await;
    a.stop().await;
}

async fn private_keys_are_encrypted_at_rest_with_a_configured_key(backend: Backend) {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let kek = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    let app = spawn_on(
        &url,
        dir,
        Options {
            extra_args: vec!["--key-encryption-key".into(), kek.clone()],
            ..Options::default()
        },
    )
    .await;
    app.signed_up("kek@example.com").await;
    let tokens = app.login("kek@example.com", "openid").await;
    assert!(
        tokens["id_token"].is_string(),
        "signing works with the decrypted key"
    );

    rotate_keys(&url, Some(&kek)).await;
    let mut db = app.db().await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT private_pem FROM signing_keys")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for pem in &stored {
        assert!(pem.starts_with("enc:v1:"), "stored encrypted");
        assert!(!pem.contains("PRIVATE KEY"));
    }

    // Without the key (or with another one) the server refuses to start, naming the setting.
    for extra in [
        vec![],
        vec![
            "--key-encryption-key".to_owned(),
            base64::engine::general_purpose::STANDARD.encode([1u8; 32]),
        ],
    ] {
        let mut args: Vec<String> = ["--listen", "127.0.0.1:0", "--database-url", &url]
            .map(str::to_owned)
            .to_vec();
        args.extend(extra);
        let settings = latchkey::cli::ServeArgs::parse_from_args(args).unwrap();
        let deps = latchkey::startup::Dependencies::default();
        let err = match latchkey::startup::Application::build(settings.config(), deps).await {
            Ok(_) => panic!("started without the right key-encryption key"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("LATCHKEY_KEY_ENCRYPTION_KEY"), "{err}");
    }
    app.stop().await;
}

crate::both_stores!(
    another_instance_accepts_a_freshly_rotated_key_at_once,
    jwks_publishes_one_rs256_key_to_any_origin,
    keys_survive_restarts_and_rotation_keeps_the_previous,
    private_keys_are_encrypted_at_rest_with_a_configured_key,
);
