//! Web Push (issue #13), the pure part: encrypting a notification for one browser subscription
//! (RFC 8291 message encryption in the RFC 8188 `aes128gcm` content coding) and the VAPID
//! `Authorization` header a push service checks (RFC 8292).
//!
//! Nothing here does I/O. The shell POSTs [`encrypt`]'s output to the subscription's endpoint with
//! `Content-Encoding: aes128gcm`, `Content-Type: application/octet-stream`, a `TTL` header and
//! `Authorization: `[`VapidKey::authorization_header`] for [`audience`] of that endpoint, and drops
//! the subscription when the push service answers 404 or 410.
//!
//! Keys are base64url without padding on output, as browsers' `PushSubscription.toJSON()` and
//! push services use them. On input, padding and the standard alphabet are accepted too: some
//! client libraries emit those, and they name the same bytes.

use std::fmt;

use aes_gcm::aead::{Aead, AeadInPlace};
use aes_gcm::{Aes128Gcm, KeyInit};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use p256::ecdh::diffie_hellman;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;

/// The largest payload [`encrypt`] accepts, in bytes.
///
/// The encrypted body is the payload plus 103 bytes (86 of header, a delimiter, a 16-byte tag),
/// and a push service need not accept bodies over 4096 bytes, so 3993 is the protocol's ceiling
/// (RFC 8291 §4). 3072 keeps clear of it and still fits a notification's title, text and URL.
pub const MAX_PAYLOAD: usize = 3072;

/// The record size written into the header. RFC 8291 §4 wants the whole message in one record,
/// with `rs` above payload + delimiter + tag, which `MAX_PAYLOAD` guarantees.
const RECORD_SIZE: u32 = 4096;
/// RFC 8188 §2: no record may be smaller than a tag plus one delimiter byte.
const MIN_RECORD_SIZE: u32 = 18;
const SALT_LEN: usize = 16;
const AUTH_LEN: usize = 16;
/// An uncompressed SEC1 P-256 point: `0x04 || x || y`.
const POINT_LEN: usize = 65;
/// salt, rs (u32), idlen (u8), keyid (the sender's ephemeral public key).
const HEADER_LEN: usize = SALT_LEN + 4 + 1 + POINT_LEN;
const TAG_LEN: usize = 16;
/// RFC 8188 §2: the last record's plaintext ends in 0x02, then optional zero padding.
const LAST_RECORD_DELIMITER: u8 = 0x02;

const JWT_HEADER: &str = r#"{"typ":"JWT","alg":"ES256"}"#;

/// Why a push could not be prepared or read. The key variants are the caller's fault (a 400 at
/// subscribe time, a misconfigured secret at send time); the others are internal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// A private key (the `VAPID_PRIVATE_KEY` secret, or the receiver's key given to [`decrypt`])
    /// is not base64url of a 32-byte P-256 scalar in range.
    InvalidPrivateKey,
    /// A subscription's `keys.p256dh` is not base64url of a 65-byte uncompressed point on P-256.
    InvalidP256dh,
    /// A subscription's `keys.auth` is not base64url of exactly 16 bytes.
    InvalidAuth,
    /// The payload is over [`MAX_PAYLOAD`] bytes; holds its length.
    PayloadTooLarge(usize),
    /// The runtime's CSPRNG failed.
    Random(String),
    /// A primitive refused its input. Cannot happen with the fixed lengths used here; it exists
    /// so that a broken invariant is an error rather than a panic that kills the Wasm instance.
    Crypto(&'static str),
    /// A body given to [`decrypt`] is not a single well-formed aes128gcm record for this receiver.
    Undecryptable(&'static str),
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::InvalidPrivateKey => {
                f.write_str("the private key is not a base64url 32-byte P-256 key")
            }
            PushError::InvalidP256dh => f.write_str(
                "keys.p256dh is not a base64url uncompressed P-256 public key (65 bytes)",
            ),
            PushError::InvalidAuth => f.write_str("keys.auth is not base64url of 16 bytes"),
            PushError::PayloadTooLarge(len) => write!(
                f,
                "the push payload is {len} bytes, over the limit of {MAX_PAYLOAD}"
            ),
            PushError::Random(cause) => write!(f, "the random number generator failed: {cause}"),
            PushError::Crypto(what) => write!(f, "{what} failed"),
            PushError::Undecryptable(why) => write!(f, "cannot decrypt the push message: {why}"),
        }
    }
}

impl std::error::Error for PushError {}

/// The application server's VAPID signing key (RFC 8292), parsed once from `VAPID_PRIVATE_KEY`.
#[derive(Clone)]
pub struct VapidKey {
    signing: SigningKey,
}

/// Shows only the public half, so a logged `VapidKey` never leaks the secret.
impl fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VapidKey")
            .field("public", &self.public_key_b64url())
            .finish_non_exhaustive()
    }
}

impl VapidKey {
    /// Parses the 32-byte private scalar, base64url (the JWK `d` that `gen-vapid.mjs` prints).
    pub fn from_base64url(private_b64url: &str) -> Result<Self, PushError> {
        let scalar = decode_b64(private_b64url)
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or(PushError::InvalidPrivateKey)?;
        let signing =
            SigningKey::from_bytes(&scalar.into()).map_err(|_| PushError::InvalidPrivateKey)?;
        Ok(Self { signing })
    }

    /// The uncompressed public point, base64url: the browser's `applicationServerKey` and the
    /// `k=` of the header. A subscription made with another key is refused by the push service.
    pub fn public_key_b64url(&self) -> String {
        let point = self.signing.verifying_key().to_encoded_point(false);
        URL_SAFE_NO_PAD.encode(point.as_bytes())
    }

    /// An ES256 JWT for one push service.
    ///
    /// `aud` is [`audience`] of the endpoint; `sub` a `mailto:` or `https:` contact the push
    /// service may use; `exp` unix seconds, at most 24 hours ahead (RFC 8292 §2; push services
    /// refuse longer-lived tokens, so `now + 12 h` is a safe choice).
    pub fn sign_jwt(&self, aud: &str, sub: &str, exp: i64) -> Result<String, PushError> {
        let claims = serde_json::json!({ "aud": aud, "exp": exp, "sub": sub });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(JWT_HEADER),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // JWS wants the raw 64-byte r || s (RFC 7518 §3.4), which is `Signature::to_bytes`,
        // not DER. Signing is deterministic (RFC 6979), so it needs no randomness.
        let signature: Signature = self
            .signing
            .try_sign(signing_input.as_bytes())
            .map_err(|_| PushError::Crypto("ECDSA signing"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }

    /// The `Authorization` header value, `vapid t=<jwt>, k=<public key>` (RFC 8292 §3).
    pub fn authorization_header(
        &self,
        aud: &str,
        sub: &str,
        exp: i64,
    ) -> Result<String, PushError> {
        Ok(format!(
            "vapid t={}, k={}",
            self.sign_jwt(aud, sub, exp)?,
            self.public_key_b64url()
        ))
    }
}

/// A fresh P-256 key pair, `(private scalar, uncompressed public point)`, both base64url.
///
/// Used for VAPID keys, and by tests to play a browser: its private half goes to [`decrypt`]
/// (decoded to 32 bytes), its public half is the subscription's `p256dh`.
pub fn generate_vapid_keypair() -> Result<(String, String), PushError> {
    let secret = random_secret_key()?;
    let public = secret.public_key().to_encoded_point(false);
    Ok((
        URL_SAFE_NO_PAD.encode(secret.to_bytes()),
        URL_SAFE_NO_PAD.encode(public.as_bytes()),
    ))
}

/// Checks a subscription's keys before it is stored, so a bad one is a 400 at subscribe time
/// rather than a push that fails later for every order.
pub fn validate_keys(p256dh_b64url: &str, auth_b64url: &str) -> Result<(), PushError> {
    decode_p256dh(p256dh_b64url)?;
    decode_auth(auth_b64url)?;
    Ok(())
}

/// Encrypts `payload` for the subscription with these keys: the request body, `aes128gcm`.
///
/// Every call draws a new ephemeral key and salt: reusing either for the same subscription
/// would repeat an AES-GCM key and nonce, which breaks confidentiality and integrity.
pub fn encrypt(
    payload: &[u8],
    ua_public_b64url: &str,
    auth_secret_b64url: &str,
) -> Result<Vec<u8>, PushError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PushError::PayloadTooLarge(payload.len()));
    }
    let ua_public = decode_p256dh(ua_public_b64url)?;
    let auth_secret = decode_auth(auth_secret_b64url)?;
    let as_private: [u8; 32] = random_secret_key()?.to_bytes().into();
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    encrypt_with(payload, &ua_public, &auth_secret, as_private, salt)
}

/// [`encrypt`] with the ephemeral key and salt given, so the RFC 8291 example can be replayed.
fn encrypt_with(
    payload: &[u8],
    ua_public: &[u8; POINT_LEN],
    auth_secret: &[u8; AUTH_LEN],
    as_private: [u8; 32],
    salt: [u8; SALT_LEN],
) -> Result<Vec<u8>, PushError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PushError::PayloadTooLarge(payload.len()));
    }
    let ua_key = parse_point(ua_public).ok_or(PushError::InvalidP256dh)?;
    let as_secret =
        SecretKey::from_bytes(&as_private.into()).map_err(|_| PushError::InvalidPrivateKey)?;
    let as_public = as_secret.public_key().to_encoded_point(false);
    let ecdh = diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());
    let (cek, nonce) = content_key(
        ecdh.raw_secret_bytes(),
        auth_secret,
        &salt,
        ua_public,
        as_public.as_bytes(),
    )?;

    let mut body = Vec::with_capacity(HEADER_LEN + payload.len() + 1 + TAG_LEN);
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(POINT_LEN as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(payload);
    body.push(LAST_RECORD_DELIMITER);
    let tag = Aes128Gcm::new(&cek.into())
        .encrypt_in_place_detached(&nonce.into(), b"", &mut body[HEADER_LEN..])
        .map_err(|_| PushError::Crypto("AES-GCM encryption"))?;
    body.extend_from_slice(&tag);
    Ok(body)
}

/// What a browser does with a push body: the inverse of [`encrypt`], for a receiver holding the
/// private key behind `p256dh` and the `auth` secret. Used by tests that play the browser.
///
/// Reads exactly what [`encrypt`] writes: one record, optionally zero-padded.
pub fn decrypt(
    body: &[u8],
    ua_private: &[u8; 32],
    auth_secret: &[u8; AUTH_LEN],
) -> Result<Vec<u8>, PushError> {
    let ua_secret =
        SecretKey::from_bytes(&(*ua_private).into()).map_err(|_| PushError::InvalidPrivateKey)?;
    if body.len() < HEADER_LEN {
        return Err(PushError::Undecryptable(
            "the body is shorter than its header",
        ));
    }
    let (header, record) = body.split_at(HEADER_LEN);
    let (salt, rest) = header.split_at(SALT_LEN);
    let (rs, rest) = rest.split_at(4);
    let (idlen, keyid) = rest.split_at(1);
    if usize::from(idlen[0]) != POINT_LEN {
        return Err(PushError::Undecryptable(
            "the key id is not an uncompressed P-256 point",
        ));
    }
    let as_key = parse_point(keyid).ok_or(PushError::Undecryptable(
        "the key id is not an uncompressed P-256 point",
    ))?;
    let rs = u32::from_be_bytes([rs[0], rs[1], rs[2], rs[3]]);
    if rs < MIN_RECORD_SIZE {
        return Err(PushError::Undecryptable("the record size is below 18"));
    }
    if record.len() > rs as usize {
        return Err(PushError::Undecryptable(
            "the body holds more than one record",
        ));
    }
    if record.len() <= TAG_LEN {
        return Err(PushError::Undecryptable(
            "the record is shorter than its tag",
        ));
    }
    let salt = <[u8; SALT_LEN]>::try_from(salt)
        .map_err(|_| PushError::Undecryptable("the salt is not 16 bytes"))?;

    let ua_public = ua_secret.public_key().to_encoded_point(false);
    let ecdh = diffie_hellman(ua_secret.to_nonzero_scalar(), as_key.as_affine());
    let (cek, nonce) = content_key(
        ecdh.raw_secret_bytes(),
        auth_secret,
        &salt,
        ua_public.as_bytes(),
        keyid,
    )?;
    let mut plaintext = Aes128Gcm::new(&cek.into())
        .decrypt(&nonce.into(), record)
        .map_err(|_| {
            PushError::Undecryptable("authentication failed (another key or auth, or tampering)")
        })?;
    // RFC 8291 §4: a delimiter other than 0x02 (the last record's) must discard the message.
    let end = plaintext
        .iter()
        .rposition(|&b| b != 0)
        .filter(|&i| plaintext[i] == LAST_RECORD_DELIMITER)
        .ok_or(PushError::Undecryptable(
            "the record does not end with the last-record delimiter",
        ))?;
    plaintext.truncate(end);
    Ok(plaintext)
}

/// The VAPID `aud` for a push endpoint: its origin, `scheme://host[:port]` (RFC 8292 §2).
///
/// Lower-cases scheme and host and drops a default port, as origins are serialised, since push
/// services compare `aud` with their own origin. `None` for anything but an absolute `http(s)`
/// URL with a plain host: such an endpoint cannot be pushed to, so it should not be stored.
pub fn audience(endpoint: &str) -> Option<String> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.find(['/', '?', '#']).map_or(rest, |end| &rest[..end]);
    let (host, port) = split_host_port(authority)?;
    let host = host.to_ascii_lowercase();
    match port {
        Some(port) if port != default_port => Some(format!("{scheme}://{host}:{port}")),
        _ => Some(format!("{scheme}://{host}")),
    }
}

/// `host[:port]` or `[v6]:port`, refusing userinfo (`user@host`), which would otherwise slip into
/// the host, and any character a host cannot hold.
fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, after) = authority.split_at(close + 1);
        let literal = &host[1..close];
        let v6_char = |c: char| c.is_ascii_hexdigit() || c == ':' || c == '.';
        if literal.is_empty() || !literal.chars().all(v6_char) {
            return None;
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (host, port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_');
        if host.is_empty() || !host.chars().all(name_char) {
            return None;
        }
        (host, port)
    };
    let port = match port {
        // "host:" is how URL parsers spell "the default port".
        None | Some("") => None,
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// RFC 8291 §3.3–3.4, then RFC 8188 §2.2–2.3: the content key and nonce both directions derive.
/// The nonce is used as is: a single record has sequence number 0.
fn content_key(
    ecdh_secret: &[u8],
    auth_secret: &[u8; AUTH_LEN],
    salt: &[u8; SALT_LEN],
    ua_public: &[u8],
    as_public: &[u8],
) -> Result<([u8; 16], [u8; 12]), PushError> {
    let hkdf_failed = |_| PushError::Crypto("HKDF");
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth_secret), ecdh_secret)
        .expand_multi_info(&[b"WebPush: info\0", ua_public, as_public], &mut ikm)
        .map_err(hkdf_failed)?;
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let mut cek = [0u8; 16];
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek)
        .map_err(hkdf_failed)?;
    let mut nonce = [0u8; 12];
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce)
        .map_err(hkdf_failed)?;
    Ok((cek, nonce))
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    let normalised: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(normalised).ok()
}

fn decode_p256dh(p256dh_b64url: &str) -> Result<[u8; POINT_LEN], PushError> {
    let point = decode_b64(p256dh_b64url)
        .and_then(|bytes| <[u8; POINT_LEN]>::try_from(bytes).ok())
        .ok_or(PushError::InvalidP256dh)?;
    parse_point(&point).ok_or(PushError::InvalidP256dh)?;
    Ok(point)
}

fn decode_auth(auth_b64url: &str) -> Result<[u8; AUTH_LEN], PushError> {
    decode_b64(auth_b64url)
        .and_then(|bytes| <[u8; AUTH_LEN]>::try_from(bytes).ok())
        .ok_or(PushError::InvalidAuth)
}

/// Only the uncompressed form, which browsers give as `p256dh` and RFC 8291 §4 requires for the
/// `keyid`: the key schedule hashes these exact bytes. `from_sec1_bytes` checks the point is on
/// the curve, which keeps invalid-curve points out of the ECDH.
fn parse_point(point: &[u8]) -> Option<PublicKey> {
    if point.len() != POINT_LEN || point[0] != 0x04 {
        return None;
    }
    PublicKey::from_sec1_bytes(point).ok()
}

fn fill_random(bytes: &mut [u8]) -> Result<(), PushError> {
    getrandom::getrandom(bytes).map_err(|e| PushError::Random(e.to_string()))
}

fn random_secret_key() -> Result<SecretKey, PushError> {
    // About 2^-32 of 32-byte strings are not a scalar (zero, or not below the group order):
    // draw again then. The bound only stops a broken generator from looping forever.
    for _ in 0..4 {
        let mut bytes = [0u8; 32];
        fill_random(&mut bytes)?;
        if let Ok(secret) = SecretKey::from_bytes(&bytes.into()) {
            return Ok(secret);
        }
    }
    Err(PushError::Random(
        "the generator keeps returning invalid P-256 scalars".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    /// RFC 8291, Section 5 and Appendix A: the worked example, with the RFC's line wrapping
    /// removed. The body was also checked to authenticate under the RFC's receiver key with an
    /// independent implementation (Node's crypto).
    mod rfc8291 {
        pub const PLAINTEXT: &[u8] = b"When I grow up, I want to be a watermelon";
        pub const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
        pub const UA_PUBLIC: &str =
            "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
        pub const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
        pub const AS_PUBLIC: &str =
            "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
        pub const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
        pub const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
        pub const ECDH_SECRET: &str = "kyrL1jIIOHEzg3sM2ZWRHDRB62YACZhhSlknJ672kSs";
        pub const CEK: &str = "oIhVW04MRdy2XN9CiKLxTg";
        pub const NONCE: &str = "4h_95klXJ5E_qnoN";
        pub const BODY: &str = concat!(
            "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27ml",
            "mlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPT",
            "pK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
        );
    }

    fn b64(text: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(text).unwrap()
    }

    fn array<const N: usize>(text: &str) -> [u8; N] {
        b64(text).try_into().unwrap()
    }

    /// A browser's side of a subscription: (private key, p256dh, auth), the last two base64url.
    fn receiver() -> ([u8; 32], String, String) {
        let (private, public) = generate_vapid_keypair().unwrap();
        let mut auth = [0u8; 16];
        getrandom::getrandom(&mut auth).unwrap();
        (array(&private), public, URL_SAFE_NO_PAD.encode(auth))
    }

    #[test]
    fn the_rfc_8291_example_encrypts_to_the_published_body() {
        let body = encrypt_with(
            rfc8291::PLAINTEXT,
            &array(rfc8291::UA_PUBLIC),
            &array(rfc8291::AUTH),
            array(rfc8291::AS_PRIVATE),
            array(rfc8291::SALT),
        )
        .unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(&body), rfc8291::BODY);
    }

    #[test]
    fn the_key_schedule_matches_the_rfc_8291_intermediate_values() {
        let as_secret = SecretKey::from_bytes(&array::<32>(rfc8291::AS_PRIVATE).into()).unwrap();
        let ua_key = PublicKey::from_sec1_bytes(&b64(rfc8291::UA_PUBLIC)).unwrap();
        let ecdh = diffie_hellman(as_secret.to_nonzero_scalar(), ua_key.as_affine());
        assert_eq!(
            URL_SAFE_NO_PAD.encode(ecdh.raw_secret_bytes()),
            rfc8291::ECDH_SECRET
        );
        let (cek, nonce) = content_key(
            ecdh.raw_secret_bytes(),
            &array(rfc8291::AUTH),
            &array(rfc8291::SALT),
            &b64(rfc8291::UA_PUBLIC),
            &b64(rfc8291::AS_PUBLIC),
        )
        .unwrap();
        assert_eq!(URL_SAFE_NO_PAD.encode(cek), rfc8291::CEK);
        assert_eq!(URL_SAFE_NO_PAD.encode(nonce), rfc8291::NONCE);
    }

    #[test]
    fn the_rfc_8291_body_decrypts_with_the_receiver_key() {
        let plaintext = decrypt(
            &b64(rfc8291::BODY),
            &array(rfc8291::UA_PRIVATE),
            &array(rfc8291::AUTH),
        )
        .unwrap();
        assert_eq!(plaintext, rfc8291::PLAINTEXT);
    }

    #[test]
    fn the_vapid_public_key_is_derived_like_the_rfc_sender_key() {
        let key = VapidKey::from_base64url(rfc8291::AS_PRIVATE).unwrap();
        assert_eq!(key.public_key_b64url(), rfc8291::AS_PUBLIC);
    }

    #[test]
    fn an_encrypted_payload_round_trips_through_the_receiver() {
        let (private, p256dh, auth) = receiver();
        for payload in [
            &b""[..],
            br#"{"title":"Order 42","body":"Ready for pickup"}"#,
            "Rosen für Zoë 💐".as_bytes(),
            &[b'x'; MAX_PAYLOAD],
        ] {
            let body = encrypt(payload, &p256dh, &auth).unwrap();
            assert_eq!(body.len(), HEADER_LEN + payload.len() + 1 + TAG_LEN);
            assert_eq!(body[16..20], 4096u32.to_be_bytes());
            assert_eq!(body[20], 65);
            assert_eq!(
                decrypt(&body, &private, &array(&auth)).unwrap(),
                payload,
                "payload of {} bytes",
                payload.len()
            );
        }
    }

    #[test]
    fn every_message_gets_a_fresh_salt_and_ephemeral_key() {
        let (_, p256dh, auth) = receiver();
        let a = encrypt(b"same", &p256dh, &auth).unwrap();
        let b = encrypt(b"same", &p256dh, &auth).unwrap();
        assert_ne!(a[..SALT_LEN], b[..SALT_LEN]);
        assert_ne!(a[21..HEADER_LEN], b[21..HEADER_LEN]);
    }

    #[test]
    fn decrypt_refuses_tampered_bodies_and_the_wrong_secrets() {
        let (private, p256dh, auth) = receiver();
        let body = encrypt(b"hello", &p256dh, &auth).unwrap();
        let auth = array::<16>(&auth);

        let mut tampered = body.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decrypt(&tampered, &private, &auth),
            Err(PushError::Undecryptable(_))
        ));
        let mut other_auth = auth;
        other_auth[0] ^= 1;
        assert!(decrypt(&body, &private, &other_auth).is_err());
        let (other_private, _, _) = receiver();
        assert!(decrypt(&body, &other_private, &auth).is_err());
        assert!(decrypt(&body[..HEADER_LEN + TAG_LEN], &private, &auth).is_err());
        assert!(decrypt(&body[..40], &private, &auth).is_err());
    }

    #[test]
    fn a_payload_over_the_limit_is_refused() {
        let (_, p256dh, auth) = receiver();
        assert!(encrypt(&[0; MAX_PAYLOAD], &p256dh, &auth).is_ok());
        assert_eq!(
            encrypt(&[0; MAX_PAYLOAD + 1], &p256dh, &auth),
            Err(PushError::PayloadTooLarge(MAX_PAYLOAD + 1))
        );
    }

    #[test]
    fn subscription_keys_must_be_a_curve_point_and_16_bytes() {
        assert_eq!(validate_keys(rfc8291::UA_PUBLIC, rfc8291::AUTH), Ok(()));

        let point = b64(rfc8291::UA_PUBLIC);
        let std_padded = base64::engine::general_purpose::STANDARD.encode(&point);
        assert_eq!(
            validate_keys(&std_padded, "BTBZMqHH6r4Tts7J_aSIgg=="),
            Ok(())
        );

        let off_curve = {
            let mut p = point.clone();
            p[64] ^= 1;
            p
        };
        let compressed = {
            let mut p = vec![0x02 + (point[64] & 1)];
            p.extend_from_slice(&point[1..33]);
            p
        };
        for bad in [
            URL_SAFE_NO_PAD.encode(&point[..64]),
            URL_SAFE_NO_PAD.encode([&point[..], &[0]].concat()),
            URL_SAFE_NO_PAD.encode(off_curve),
            URL_SAFE_NO_PAD.encode(compressed),
            URL_SAFE_NO_PAD.encode([0u8; 65]),
            "not base64!".to_string(),
            String::new(),
        ] {
            assert_eq!(
                validate_keys(&bad, rfc8291::AUTH),
                Err(PushError::InvalidP256dh),
                "{bad}"
            );
        }
        for bad in [
            URL_SAFE_NO_PAD.encode([1u8; 15]),
            URL_SAFE_NO_PAD.encode([1u8; 17]),
            "***".to_string(),
            String::new(),
        ] {
            assert_eq!(
                validate_keys(rfc8291::UA_PUBLIC, &bad),
                Err(PushError::InvalidAuth),
                "{bad}"
            );
        }
        assert_eq!(
            encrypt(b"x", rfc8291::UA_PUBLIC, &URL_SAFE_NO_PAD.encode([1u8; 15])),
            Err(PushError::InvalidAuth)
        );
    }

    #[test]
    fn a_vapid_jwt_verifies_against_the_public_key_and_carries_the_claims() {
        let (private, public) = generate_vapid_keypair().unwrap();
        let key = VapidKey::from_base64url(&private).unwrap();
        assert_eq!(key.public_key_b64url(), public);

        let aud = "https://fcm.googleapis.com";
        let sub = "mailto:ops@florist.example";
        let jwt = key.sign_jwt(aud, sub, 1_900_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);

        let header: serde_json::Value = serde_json::from_slice(&b64(parts[0])).unwrap();
        assert_eq!(header, serde_json::json!({ "typ": "JWT", "alg": "ES256" }));
        let claims: serde_json::Value = serde_json::from_slice(&b64(parts[1])).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({ "aud": aud, "exp": 1_900_000_000, "sub": sub })
        );

        let raw_signature = b64(parts[2]);
        assert_eq!(raw_signature.len(), 64, "ES256 is r || s, not DER");
        let verifying = VerifyingKey::from_sec1_bytes(&b64(&public)).unwrap();
        let signature = Signature::from_slice(&raw_signature).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(verifying.verify(input.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(b"another input", &signature).is_err());

        let header = key.authorization_header(aud, sub, 1_900_000_000).unwrap();
        assert_eq!(header, format!("vapid t={jwt}, k={public}"));
    }

    #[test]
    fn a_vapid_key_must_be_a_32_byte_scalar() {
        for bad in [
            URL_SAFE_NO_PAD.encode([1u8; 31]),
            URL_SAFE_NO_PAD.encode([1u8; 33]),
            URL_SAFE_NO_PAD.encode([0u8; 32]),
            URL_SAFE_NO_PAD.encode([0xffu8; 32]),
            "!!".to_string(),
            String::new(),
        ] {
            assert!(
                matches!(
                    VapidKey::from_base64url(&bad),
                    Err(PushError::InvalidPrivateKey)
                ),
                "{bad}"
            );
        }
        // A secret pasted with a trailing newline still works.
        assert!(VapidKey::from_base64url(&format!("{}\n", rfc8291::AS_PRIVATE)).is_ok());
    }

    #[test]
    fn a_logged_vapid_key_shows_only_its_public_half() {
        let key = VapidKey::from_base64url(rfc8291::AS_PRIVATE).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(rfc8291::AS_PUBLIC));
        assert!(!shown.contains(rfc8291::AS_PRIVATE));
    }

    #[test]
    fn generated_key_pairs_are_unpadded_base64url_of_32_and_65_bytes() {
        let (private, public) = generate_vapid_keypair().unwrap();
        assert_eq!(b64(&private).len(), 32);
        let point = b64(&public);
        assert_eq!(point.len(), 65);
        assert_eq!(point[0], 0x04);
        assert!(!format!("{private}{public}").contains(['=', '+', '/']));
        assert_ne!(generate_vapid_keypair().unwrap().0, private);
    }

    #[test]
    fn the_audience_is_the_endpoint_origin() {
        let cases = [
            (
                "https://fcm.googleapis.com/fcm/send/abc",
                Some("https://fcm.googleapis.com"),
            ),
            (
                "http://127.0.0.1:9999/push/x",
                Some("http://127.0.0.1:9999"),
            ),
            (
                "https://updates.push.services.mozilla.com/wpush/v2/gAAA?x=1",
                Some("https://updates.push.services.mozilla.com"),
            ),
            (
                "HTTPS://Web.Push.Apple.COM:443/QG",
                Some("https://web.push.apple.com"),
            ),
            ("http://localhost:80", Some("http://localhost")),
            (
                "https://push.example:8443?q",
                Some("https://push.example:8443"),
            ),
            ("https://push.example:/p", Some("https://push.example")),
            ("http://[::1]:9999/push", Some("http://[::1]:9999")),
            ("ftp://push.example/x", None),
            ("push.example/x", None),
            ("https:///x", None),
            ("https://user:pw@push.example/x", None),
            ("https://push.example:99999/x", None),
            ("https://push.example:8a/x", None),
            ("https://push example/x", None),
            ("http://[::1/x", None),
        ];
        for (endpoint, origin) in cases {
            assert_eq!(audience(endpoint).as_deref(), origin, "{endpoint}");
        }
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(
            PushError::PayloadTooLarge(4000).to_string(),
            "the push payload is 4000 bytes, over the limit of 3072"
        );
        assert!(PushError::InvalidAuth.to_string().contains("keys.auth"));
    }
}
