//! Caller identity: HS256 JWTs for florists and managers, a static bearer secret for admins.
//!
//! Tokens are standard compact JWTs (`header.payload.signature`, base64url without padding),
//! so a shop's own login service can mint compatible ones with any JWT library.

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
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!())
}

pub fn sign(claims: &Claims, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
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
        }
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
