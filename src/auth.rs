//! Caller identity: HS256 JWTs for florists and managers, a static bearer secret for admins.
//!
//! Tokens are standard compact JWTs (`header.payload.signature`, base64url without padding),
//! so a shop's own login service can mint compatible ones with any JWT library.
//!
//! Keys: every shop has its own signing keys, named by the JWT header's `kid`, so whoever holds
//! one shop's key can mint tokens for that shop only. Such tokens must carry `iss`
//! ([`ISSUER`]) and `aud` ([`audience`] of the shop). Tokens without a `kid` are the platform's
//! own, signed with `AUTH_SECRET`. A shop's `tokensNotBefore` revokes every token issued (`iat`)
//! before it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::{Role, TenantId};
use crate::error::{ApiError, ApiResult};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant: String,
    pub role: Role,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issued at (unix seconds); tokens issued before the shop's `tokensNotBefore` are revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
}

/// The `iss` of every token this service mints.
pub const ISSUER: &str = "florist-board";

/// The `aud` of a token for `tenant`.
pub fn audience(tenant: &str) -> String {
    format!("florist-board/{tenant}")
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    sign_with(claims, secret, None)
}

/// Signs with a shop's key, named in the header by `kid`.
pub fn sign_with(claims: &Claims, secret: &[u8], kid: Option<&str>) -> String {
    let header = match kid {
        Some(kid) => serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string(),
        None => HEADER.to_string(),
    };
    let header = URL_SAFE_NO_PAD.encode(header);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_string())
}

/// Verifies signature, algorithm and expiry. `now` is unix seconds.
pub fn verify(token: &str, secret: &[u8], now: i64) -> ApiResult<Claims> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(unauthorized("the token is not a JWT"));
    };
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| unauthorized("the token signature is not base64url"))?;
    let mut m = mac(secret);
    m.update(header.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    m.verify_slice(&sig)
        .map_err(|_| unauthorized("the token signature does not verify"))?;

    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| unauthorized("the token header is malformed"))?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(unauthorized("only HS256 tokens are accepted"));
    }
    let claims: Claims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| unauthorized("the token claims are malformed"))?;
    if claims.exp <= now {
        return Err(unauthorized("the token has expired"));
    }
    Ok(claims)
}

/// What a token says before it is verified: which key (`kid`) and which shop it names, so the
/// shell can fetch that shop's keys. Nothing here is trusted until [`authenticate`] verifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    pub kid: Option<String>,
    pub tenant: String,
}

fn decode_part(part: &str) -> Option<serde_json::Value> {
    URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

pub fn peek(token: &str) -> ApiResult<Unverified> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return Err(unauthorized("the token is not a JWT"));
    };
    let header =
        decode_part(header).ok_or_else(|| unauthorized("the token header is malformed"))?;
    let payload =
        decode_part(payload).ok_or_else(|| unauthorized("the token claims are malformed"))?;
    Ok(Unverified {
        kid: header
            .get("kid")
            .and_then(|k| k.as_str())
            .map(str::to_string),
        tenant: payload
            .get("tenant")
            .and_then(|t| t.as_str())
            .unwrap_or_default()
            .to_string(),
    })
}

/// One of a shop's signing keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub secret: Vec<u8>,
    /// When it stops verifying (unix seconds); `None` = the current key.
    pub retires_at: Option<i64>,
}

/// What a shop's tokens are checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantKeys {
    pub keys: Vec<SigningKey>,
    /// Tokens issued before this (unix seconds) are revoked.
    pub tokens_not_before: i64,
}

impl TenantKeys {
    /// The key new tokens are signed with: the newest that is not retiring.
    pub fn current(&self) -> Option<&SigningKey> {
        self.keys.iter().rev().find(|k| k.retires_at.is_none())
    }
}

/// Verifies a user token: by the shop's key named in `kid` (then `iss` and `aud` are required),
/// else by the platform's `AUTH_SECRET`; then expiry and the shop's `tokensNotBefore`.
/// `shop` holds the keys of the shop the token names (`None`: no such shop).
pub fn authenticate(
    token: &str,
    platform_secret: &[u8],
    shop: Option<&TenantKeys>,
    now: i64,
) -> ApiResult<Claims> {
    let unverified = peek(token)?;
    let claims = match &unverified.kid {
        Some(kid) => {
            let key = shop
                .and_then(|s| s.keys.iter().find(|k| &k.kid == kid))
                .filter(|k| k.retires_at.is_none_or(|at| at > now))
                .ok_or_else(|| unauthorized("the token's signing key is unknown or retired"))?;
            let claims = verify(token, &key.secret, now)?;
            if claims.iss.as_deref() != Some(ISSUER)
                || claims.aud.as_deref() != Some(audience(&claims.tenant).as_str())
            {
                return Err(unauthorized("the token's iss or aud is not this service's"));
            }
            claims
        }
        None => {
            let claims = verify(token, platform_secret, now)?;
            let iss_ok = claims.iss.as_deref().is_none_or(|i| i == ISSUER);
            let aud_ok = claims
                .aud
                .as_deref()
                .is_none_or(|a| a == audience(&claims.tenant));
            if !iss_ok || !aud_ok {
                return Err(unauthorized("the token's iss or aud is not this service's"));
            }
            claims
        }
    };
    let not_before = shop.map_or(0, |s| s.tokens_not_before);
    if claims.iat.unwrap_or(0) < not_before {
        return Err(unauthorized("the token was revoked; sign in again"));
    }
    Ok(claims)
}

/// The caller of a tenant route, after every check of [`authorize_tenant`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    /// When the token expires (unix seconds): live connections end then.
    pub expires_at: i64,
}

/// Checks that `claims` may act on `tenant` with at least `needed` role.
pub fn authorize_tenant(claims: Claims, tenant: &TenantId, needed: Role) -> ApiResult<Caller> {
    if claims.tenant != tenant.as_str() {
        return Err(ApiError::Forbidden(
            "this token belongs to another shop".into(),
        ));
    }
    if needed == Role::Manager && claims.role != Role::Manager {
        return Err(ApiError::Forbidden("only a manager may do this".into()));
    }
    Ok(Caller {
        user_id: claims.sub,
        role: claims.role,
        expires_at: claims.exp,
    })
}

/// Constant-time comparison of a presented admin token with the configured one.
pub fn admin_token_matches(presented: Option<&str>, configured: &str) -> bool {
    match presented {
        Some(p) if !configured.is_empty() => p.as_bytes().ct_eq(configured.as_bytes()).into(),
        _ => false,
    }
}

/// `Authorization: Bearer <token>` → `<token>`.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let header = header?;
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test-secret";

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "florist-1".into(),
            tenant: "demo".into(),
            role: Role::Florist,
            exp,
            iss: None,
            aud: None,
            iat: None,
        }
    }

    fn shop_claims(tenant: &str, iat: i64) -> Claims {
        Claims {
            tenant: tenant.into(),
            iss: Some(ISSUER.into()),
            aud: Some(audience(tenant)),
            iat: Some(iat),
            ..claims(2_000)
        }
    }

    fn keys() -> TenantKeys {
        TenantKeys {
            keys: vec![
                SigningKey {
                    kid: "old".into(),
                    secret: b"old-key".to_vec(),
                    retires_at: Some(1_500),
                },
                SigningKey {
                    kid: "new".into(),
                    secret: b"new-key".to_vec(),
                    retires_at: None,
                },
            ],
            tokens_not_before: 100,
        }
    }

    #[test]
    fn a_shops_key_verifies_only_its_tokens_with_iss_and_aud() {
        let shop = keys();
        assert_eq!(shop.current().map(|k| k.kid.as_str()), Some("new"));
        let token = sign_with(&shop_claims("demo", 900), b"new-key", Some("new"));
        let got = authenticate(&token, SECRET, Some(&shop), 1_000).unwrap();
        assert_eq!(got.tenant, "demo");
        // The old key verifies during its grace, not after.
        let old = sign_with(&shop_claims("demo", 900), b"old-key", Some("old"));
        assert!(authenticate(&old, SECRET, Some(&shop), 1_000).is_ok());
        assert_eq!(
            authenticate(&old, SECRET, Some(&shop), 1_500)
                .unwrap_err()
                .status(),
            401
        );
        // A kid the shop does not have, a wrong key, a missing or foreign aud/iss: 401.
        let unknown = sign_with(&shop_claims("demo", 900), b"new-key", Some("nope"));
        let wrong = sign_with(&shop_claims("demo", 900), b"other", Some("new"));
        let no_aud = sign_with(
            &Claims {
                aud: None,
                ..shop_claims("demo", 900)
            },
            b"new-key",
            Some("new"),
        );
        let foreign_aud = sign_with(
            &Claims {
                aud: Some(audience("other")),
                ..shop_claims("demo", 900)
            },
            b"new-key",
            Some("new"),
        );
        let no_iss = sign_with(
            &Claims {
                iss: None,
                ..shop_claims("demo", 900)
            },
            b"new-key",
            Some("new"),
        );
        for bad in [unknown, wrong, no_aud, foreign_aud, no_iss] {
            assert_eq!(
                authenticate(&bad, SECRET, Some(&shop), 1_000)
                    .unwrap_err()
                    .status(),
                401
            );
        }
        assert_eq!(
            authenticate(&token, SECRET, None, 1_000)
                .unwrap_err()
                .status(),
            401
        );
    }

    #[test]
    fn tokens_issued_before_tokens_not_before_are_revoked() {
        let shop = keys();
        let early = sign_with(&shop_claims("demo", 99), b"new-key", Some("new"));
        assert_eq!(
            authenticate(&early, SECRET, Some(&shop), 1_000)
                .unwrap_err()
                .status(),
            401
        );
        let platform_early = sign(&claims(2_000), SECRET); // no iat: issued at 0
        assert_eq!(
            authenticate(&platform_early, SECRET, Some(&shop), 1_000)
                .unwrap_err()
                .status(),
            401
        );
        let platform = sign(
            &Claims {
                iat: Some(100),
                ..claims(2_000)
            },
            SECRET,
        );
        assert!(authenticate(&platform, SECRET, Some(&shop), 1_000).is_ok());
        // The platform's own tokens (no kid) keep working where nothing is revoked.
        assert!(authenticate(&platform_early, SECRET, None, 1_000).is_ok());
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_its_claims() {
        let token = sign(&claims(2_000), SECRET);
        assert_eq!(verify(&token, SECRET, 1_000).unwrap(), claims(2_000));
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_401() {
        let token = sign(&claims(2_000), SECRET);
        assert_eq!(verify(&token, SECRET, 2_000).unwrap_err().status(), 401);
        assert_eq!(verify(&token, b"other", 1_000).unwrap_err().status(), 401);
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let forged = Claims {
            role: Role::Manager,
            ..claims(2_000)
        };
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            verify(&parts.join("."), SECRET, 1_000)
                .unwrap_err()
                .status(),
            401
        );
        assert_eq!(verify("abc", SECRET, 1_000).unwrap_err().status(), 401);
        assert_eq!(verify("a.b.c", SECRET, 1_000).unwrap_err().status(), 401);
    }

    #[test]
    fn tokens_with_another_algorithm_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(2_000)).unwrap());
        let input = format!("{header}.{payload}");
        let mut m = mac(SECRET);
        m.update(input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        let token = format!("{input}.{sig}");
        assert_eq!(verify(&token, SECRET, 1_000).unwrap_err().status(), 401);
    }

    #[test]
    fn other_tenant_and_missing_role_are_403() {
        let demo = TenantId::parse("demo").unwrap();
        let other = TenantId::parse("other").unwrap();
        assert!(authorize_tenant(claims(1), &demo, Role::Florist).is_ok());
        assert_eq!(
            authorize_tenant(claims(1), &other, Role::Florist)
                .unwrap_err()
                .status(),
            403
        );
        assert_eq!(
            authorize_tenant(claims(1), &demo, Role::Manager)
                .unwrap_err()
                .status(),
            403
        );
    }

    #[test]
    fn bearer_and_admin_checks() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert!(admin_token_matches(Some("s3cret"), "s3cret"));
        assert!(!admin_token_matches(Some("s3cre"), "s3cret"));
        assert!(!admin_token_matches(None, "s3cret"));
        assert!(!admin_token_matches(Some(""), ""));
    }
}
