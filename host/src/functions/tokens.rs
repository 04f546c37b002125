//! Invocation tokens: EdDSA (Ed25519) JWTs signed with their namespace's token key.
//!
//! A token carries its namespace (`ns`) and, for a one-function token, the function (`fn`);
//! its header names the signing key (`kid`). Only `EdDSA` verifies: `alg: none`, HMAC and
//! every other algorithm are refused before any signature is looked at, and a key id that is
//! not some namespace's current one (a rotated-away key, a made-up one) is refused without a
//! database query. Tokens are never stored; rotating the namespace's key is what revokes them.
//!
//! The signatures are ed25519-dalek's, through jsonwebtoken's provider interface ([`Ed25519Only`]):
//! a provider that knows one algorithm cannot be talked into another.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::model::access::TokenScope;
use crate::model::{NamespaceRecord, Timestamp};

/// The issuer every fdo token names.
pub const ISSUER: &str = "fdo";
/// The audience every fdo token names: calling functions.
pub const AUDIENCE: &str = "fdo:invoke";

/// jsonwebtoken's cryptography for fdo: Ed25519 only. Encoding keys are 32-byte seeds,
/// decoding keys 32-byte public keys; any other algorithm is an error.
struct Ed25519Only;

struct EdSigner(ed25519_dalek::SigningKey);
struct EdVerifier(ed25519_dalek::VerifyingKey);

impl ed25519_dalek::ed25519::signature::Signer<Vec<u8>> for EdSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::ed25519::signature::Error> {
        Ok(self.0.sign(msg).to_bytes().to_vec())
    }
}

impl JwtSigner for EdSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

impl ed25519_dalek::ed25519::signature::Verifier<Vec<u8>> for EdVerifier {
    fn verify(
        &self,
        msg: &[u8],
        sig: &Vec<u8>,
    ) -> Result<(), ed25519_dalek::ed25519::signature::Error> {
        let sig = ed25519_dalek::Signature::from_slice(sig)?;
        self.0.verify_strict(msg, &sig)
    }
}

impl JwtVerifier for EdVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

impl Ed25519Only {
    fn signer(
        alg: &Algorithm,
        key: &EncodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
        if *alg != Algorithm::EdDSA {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        let seed: &[u8; 32] = key
            .inner()
            .try_into()
            .map_err(|_| ErrorKind::InvalidEddsaKey)?;
        Ok(Box::new(EdSigner(ed25519_dalek::SigningKey::from_bytes(
            seed,
        ))))
    }

    fn verifier(
        alg: &Algorithm,
        key: &DecodingKey,
    ) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
        if *alg != Algorithm::EdDSA {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        let public: &[u8; 32] = key
            .as_bytes()
            .try_into()
            .map_err(|_| ErrorKind::InvalidEddsaKey)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(public)
            .map_err(|_| ErrorKind::InvalidEddsaKey)?;
        Ok(Box::new(EdVerifier(key)))
    }
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: Ed25519Only::signer,
    verifier_factory: Ed25519Only::verifier,
    jwk_utils: JwkUtils::new_unimplemented(),
};

/// Installs [`Ed25519Only`] as jsonwebtoken's provider (once per process).
fn install_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::warn!("a jsonwebtoken crypto provider was installed before fdo's");
        }
    });
}

/// A token's claims.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    /// The namespace whose key signed the token.
    ns: String,
    /// The one function the token may call; every function of `ns` when absent.
    #[serde(rename = "fn", default, skip_serializing_if = "Option::is_none")]
    function: Option<String>,
    /// Issued at, Unix seconds.
    iat: i64,
    /// Expiry, Unix seconds; none: valid until the namespace's key is rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    /// A random id, so two tokens issued in the same second differ.
    jti: String,
}

/// Signing or verifying failed for a reason that is not the token's fault.
#[derive(Debug, thiserror::Error)]
#[error("token key of namespace {namespace}: {reason}")]
pub struct KeyError {
    namespace: String,
    reason: String,
}

/// A signed token and what it grants.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The JWT.
    pub token: String,
    /// What it may call.
    pub scope: TokenScope,
    /// When it stops working, if ever (besides a rotation).
    pub expires_at: Option<Timestamp>,
}

/// Signs a token for `scope` with `namespace`'s key (the caller checked that the scope lies in
/// that namespace). `expires_at` is rounded down to the second (JWT times are seconds).
pub fn issue(
    namespace: &NamespaceRecord,
    scope: TokenScope,
    expires_at: Option<Timestamp>,
) -> Result<IssuedToken, KeyError> {
    install_provider();
    let key_error = |reason: String| KeyError {
        namespace: namespace.name.clone(),
        reason,
    };
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(namespace.token_key.id.clone());
    let function = match &scope {
        TokenScope::Function { id, .. } => Some(id.clone()),
        TokenScope::Namespace(_) => None,
    };
    let expires_at =
        expires_at.map(|t| Timestamp::from_millis(t.as_millis().div_euclid(1000) * 1000));
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        ns: namespace.name.clone(),
        function,
        iat: Timestamp::now().as_millis().div_euclid(1000),
        exp: expires_at.map(|t| t.as_millis() / 1000),
        jti: format!("{:016x}", rand::random::<u64>()),
    };
    let key = EncodingKey::from_ed_der(&namespace.token_key.seed);
    let token =
        jsonwebtoken::encode(&header, &claims, &key).map_err(|e| key_error(e.to_string()))?;
    Ok(IssuedToken {
        token,
        scope,
        expires_at,
    })
}

/// Verifies the tokens of one namespace (its current key).
pub struct Verifier {
    namespace: String,
    key: DecodingKey,
}

impl Verifier {
    /// The verifier for `namespace`'s current key.
    pub fn new(namespace: &NamespaceRecord) -> Self {
        let signing = ed25519_dalek::SigningKey::from_bytes(&namespace.token_key.seed);
        Verifier {
            namespace: namespace.name.clone(),
            key: DecodingKey::from_ed_der(signing.verifying_key().as_bytes()),
        }
    }
}

/// Every namespace's verifier by key id.
pub type Verifiers = HashMap<String, Arc<Verifier>, crate::FastHash>;

/// What a token that verified grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// What it may call.
    pub scope: TokenScope,
    /// Expiry, Unix ms.
    pub expires_ms: Option<i64>,
}

/// Checks `token` against the current keys: the algorithm (EdDSA only), the key id, the
/// signature, issuer, audience, expiry (no leeway), and that the namespace claim is the
/// signing key's. `None` for anything else.
pub fn verify(token: &str, verifiers: &Verifiers) -> Option<Verified> {
    install_provider();
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::EdDSA {
        return None;
    }
    let verifier = verifiers.get(header.kid.as_deref()?)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.leeway = 0;
    validation.validate_exp = true;
    validation.set_required_spec_claims(&["iss", "aud"]);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    let claims = jsonwebtoken::decode::<Claims>(token, &verifier.key, &validation)
        .ok()?
        .claims;
    if claims.ns != verifier.namespace {
        return None;
    }
    // jsonwebtoken accepts a token expiring this very second; fdo does not.
    let now_ms = Timestamp::now().as_millis();
    let expires_ms = claims.exp.map(|s| s.saturating_mul(1000));
    if expires_ms.is_some_and(|exp| exp <= now_ms) {
        return None;
    }
    let scope = match claims.function {
        Some(id) => TokenScope::Function {
            namespace: claims.ns,
            id,
        },
        None => TokenScope::Namespace(claims.ns),
    };
    Some(Verified { scope, expires_ms })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;
    use crate::model::TokenKey;

    fn namespace(name: &str) -> NamespaceRecord {
        NamespaceRecord {
            name: name.into(),
            description: String::new(),
            env: Default::default(),
            secrets: Default::default(),
            token_key: TokenKey::generate(),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    fn verifiers(namespaces: &[&NamespaceRecord]) -> Verifiers {
        namespaces
            .iter()
            .map(|ns| (ns.token_key.id.clone(), Arc::new(Verifier::new(ns))))
            .collect()
    }

    fn in_future(secs: i64) -> Option<Timestamp> {
        Some(Timestamp::from_millis(
            Timestamp::now().as_millis() + secs * 1000,
        ))
    }

    /// The token with its payload replaced by `edit(payload)`, signature kept.
    fn with_payload(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        edit(&mut payload);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
        format!("{}.{payload}.{}", parts[0], parts[2])
    }

    #[test]
    fn a_token_verifies_with_its_scope_and_expiry() {
        let shop = namespace("shop");
        let all = verifiers(&[&shop]);
        let scope = TokenScope::Function {
            namespace: "shop".into(),
            id: "cart".into(),
        };
        let issued = issue(&shop, scope.clone(), in_future(3600)).unwrap();
        let verified = verify(&issued.token, &all).unwrap();
        assert_eq!(verified.scope, scope);
        assert_eq!(
            verified.expires_ms,
            issued.expires_at.map(Timestamp::as_millis)
        );
        let whole = issue(&shop, TokenScope::Namespace("shop".into()), None).unwrap();
        assert_eq!(
            verify(&whole.token, &all).unwrap().scope,
            TokenScope::Namespace("shop".into())
        );
        assert_ne!(
            whole.token,
            issue(&shop, TokenScope::Namespace("shop".into()), None)
                .unwrap()
                .token
        );
    }

    #[test]
    fn tampered_expired_foreign_and_rotated_tokens_fail() {
        let shop = namespace("shop");
        let billing = namespace("billing");
        let all = verifiers(&[&shop, &billing]);
        let scope = TokenScope::Function {
            namespace: "shop".into(),
            id: "cart".into(),
        };
        let token = issue(&shop, scope.clone(), in_future(3600)).unwrap().token;
        // Payload edits keep the signature: it no longer matches.
        for edit in [
            Box::new(|p: &mut serde_json::Value| p["fn"] = "checkout".into())
                as Box<dyn FnOnce(&mut serde_json::Value)>,
            Box::new(|p| p["exp"] = (p["exp"].as_i64().unwrap() + 100).into()),
            Box::new(|p| p["ns"] = "billing".into()),
        ] {
            assert_eq!(verify(&with_payload(&token, edit), &all), None);
        }
        // A flipped signature byte.
        let mut sig = token.clone().into_bytes();
        let last = sig.len() - 5;
        sig[last] = if sig[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(verify(&String::from_utf8(sig).unwrap(), &all), None);
        // Expired (signed properly, with an expiry in the past).
        let expired = issue(&shop, scope.clone(), in_future(-10)).unwrap().token;
        assert_eq!(verify(&expired, &all), None);
        // A `billing` token claiming `shop`, signed with billing's key: the claim must be the
        // key's namespace.
        let forged = with_payload(
            &issue(&billing, TokenScope::Namespace("billing".into()), None)
                .unwrap()
                .token,
            |p| p["ns"] = "shop".into(),
        );
        assert_eq!(verify(&forged, &all), None);
        // After a rotation the old kid is unknown.
        let rotated = namespace("shop");
        assert_eq!(verify(&token, &verifiers(&[&rotated, &billing])), None);
        // Garbage.
        for junk in ["", "a.b.c", "not a token", "..", "e30.e30.e30"] {
            assert_eq!(verify(junk, &all), None, "{junk}");
        }
    }

    #[test]
    fn alg_none_and_hmac_tokens_are_refused() {
        let shop = namespace("shop");
        let all = verifiers(&[&shop]);
        let good = issue(&shop, TokenScope::Namespace("shop".into()), None)
            .unwrap()
            .token;
        let payload = good.split('.').nth(1).unwrap();
        for alg in ["none", "HS256", "RS256", "ES256"] {
            let header = URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&serde_json::json!({
                    "alg": alg, "typ": "JWT", "kid": shop.token_key.id
                }))
                .unwrap(),
            );
            for sig in ["", "c2lnbmF0dXJl"] {
                assert_eq!(
                    verify(&format!("{header}.{payload}.{sig}"), &all),
                    None,
                    "{alg}"
                );
            }
        }
        // HS256 signed with the public key as the HMAC secret (the classic confusion attack).
        let public = ed25519_dalek::SigningKey::from_bytes(&shop.token_key.seed)
            .verifying_key()
            .to_bytes();
        let header = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&serde_json::json!({
                "alg": "HS256", "typ": "JWT", "kid": shop.token_key.id
            }))
            .unwrap(),
        );
        let message = format!("{header}.{payload}");
        let mac = URL_SAFE_NO_PAD.encode(hmac_sha256(&public, message.as_bytes()));
        assert_eq!(verify(&format!("{message}.{mac}"), &all), None);
    }

    /// HMAC-SHA-256 (RFC 2104), for forging the token above.
    fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        use sha2::{Digest as _, Sha256};
        let mut block = [0u8; 64];
        block[..key.len()].copy_from_slice(key);
        let pad = |byte: u8| block.map(|b| b ^ byte);
        let inner = Sha256::new()
            .chain_update(pad(0x36))
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner)
            .finalize()
            .into()
    }
}
