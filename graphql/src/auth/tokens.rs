//! Access tokens are short-lived HS256 JWTs carrying the user id, signed with the
//! current key and verified against it or a previous one (rotation), selected by `kid`.
//! Refresh tokens are opaque random strings (never JWTs, so one can never pass for an
//! access token), stored as SHA-256 hashes, rotated on every use; presenting a token
//! that was already rotated revokes its whole family (theft detection).

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ApiError, ServiceResult};
use entities::{SystemTxn, refresh_tokens};

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "smr_";
/// Clock skew tolerated on a token's expiry, seconds.
pub const LEEWAY_SECS: u64 = 5;
const ISSUER: &str = "stellar-monitor";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    jti: String,
    iss: String,
    /// Always "access": a token of another type is refused.
    typ: String,
}

/// Signing keys for access tokens.
pub struct JwtKeys {
    kid: String,
    encoding: EncodingKey,
    /// kid → key, current first.
    decoding: Vec<(String, DecodingKey)>,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtKeys(kid={})", self.kid)
    }
}

/// A key's id: the first 8 bytes of its SHA-256, so rotating the secret changes it.
fn key_id(secret: &[u8]) -> String {
    hex::encode(&Sha256::digest(secret)[..8])
}

/// Hex SHA-256 of a secret token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes, URL-safe base64 without padding.
pub fn random_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl JwtKeys {
    /// `current` signs; `previous` secrets still verify (during rotation).
    pub fn new(
        current: &[u8],
        previous: &[Vec<u8>],
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        let mut decoding = vec![(key_id(current), DecodingKey::from_secret(current))];
        decoding.extend(
            previous
                .iter()
                .map(|p| (key_id(p), DecodingKey::from_secret(p))),
        );
        Self {
            kid: key_id(current),
            encoding: EncodingKey::from_secret(current),
            decoding,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Issues an access token for `user`; returns it with its expiry (unix seconds).
    pub fn issue(&self, user: Uuid) -> ServiceResult<(String, i64)> {
        let now = Utc::now().timestamp();
        let exp = now + self.access_ttl.as_secs() as i64;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        let claims = Claims {
            sub: user.to_string(),
            iat: now,
            exp,
            jti: Uuid::new_v4().to_string(),
            iss: ISSUER.to_owned(),
            typ: "access".to_owned(),
        };
        let token =
            jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(ApiError::internal)?;
        Ok((token, exp))
    }

    /// The user an access token speaks for, or `Unauthenticated` for anything wrong:
    /// another algorithm (`none` included), an unknown key, a bad signature, tampered
    /// or expired claims, another token type.
    pub fn verify(&self, token: &str) -> Result<Uuid, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthenticated)?;
        if header.alg != Algorithm::HS256 {
            return Err(ApiError::Unauthenticated);
        }
        let kid = header.kid.ok_or(ApiError::Unauthenticated)?;
        let key = self
            .decoding
            .iter()
            .find(|(k, _)| *k == kid)
            .map(|(_, key)| key)
            .ok_or(ApiError::Unauthenticated)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|_| ApiError::Unauthenticated)?;
        if data.claims.typ != "access" {
            return Err(ApiError::Unauthenticated);
        }
        data.claims
            .sub
            .parse()
            .map_err(|_| ApiError::Unauthenticated)
    }
}

/// Creates a refresh token for `user` (a new family when `family` is `None`).
pub async fn create_refresh(
    txn: &SystemTxn,
    keys: &JwtKeys,
    user: Uuid,
    family: Option<Uuid>,
) -> ServiceResult<(Uuid, String)> {
    let token = format!("{REFRESH_PREFIX}{}", random_secret());
    let id = Uuid::now_v7();
    let now = Utc::now();
    refresh_tokens::ActiveModel {
        id: Set(id),
        user_id: Set(user),
        family_id: Set(family.unwrap_or_else(Uuid::now_v7)),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(
            now + chrono::Duration::from_std(keys.refresh_ttl).map_err(ApiError::internal)?
        ),
        revoked_at: Set(None),
        replaced_by: Set(None),
        created_at: Set(now),
    }
    .insert(txn.conn())
    .await?;
    Ok((id, token))
}

/// Outcome of presenting a refresh token.
pub enum Refresh {
    /// Valid: the user, and the new token replacing it.
    Rotated {
        user: Uuid,
        token: String,
    },
    /// Already rotated or revoked: its whole family has now been revoked.
    Reused {
        user: Uuid,
    },
    Invalid,
}

/// Rotates a refresh token (see the module documentation).
pub async fn rotate(txn: &SystemTxn, keys: &JwtKeys, token: &str) -> ServiceResult<Refresh> {
    let Some(row) = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token_hash(token)))
        .one(txn.conn())
        .await?
    else {
        return Ok(Refresh::Invalid);
    };
    let now = Utc::now();
    if row.revoked_at.is_some() || row.replaced_by.is_some() {
        revoke_family(txn, row.family_id).await?;
        return Ok(Refresh::Reused { user: row.user_id });
    }
    if row.expires_at <= now {
        return Ok(Refresh::Invalid);
    }
    let (new_id, new_token) = create_refresh(txn, keys, row.user_id, Some(row.family_id)).await?;
    let user = row.user_id;
    let mut old: refresh_tokens::ActiveModel = row.into();
    old.revoked_at = Set(Some(now));
    old.replaced_by = Set(Some(new_id));
    old.update(txn.conn()).await?;
    Ok(Refresh::Rotated {
        user,
        token: new_token,
    })
}

/// Revokes every live token of a family.
pub async fn revoke_family(txn: &SystemTxn, family: Uuid) -> ServiceResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(
            refresh_tokens::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Revokes the family of `token` (logout). Unknown tokens are ignored.
pub async fn revoke(txn: &SystemTxn, token: &str) -> ServiceResult<Option<Uuid>> {
    let row = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(token_hash(token)))
        .one(txn.conn())
        .await?;
    match row {
        Some(r) => {
            revoke_family(txn, r.family_id).await?;
            Ok(Some(r.user_id))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &[u8]) -> JwtKeys {
        JwtKeys::new(
            secret,
            &[],
            Duration::from_secs(900),
            Duration::from_secs(86400),
        )
    }

    #[test]
    fn issued_tokens_verify_and_rotation_keeps_old_ones_valid() {
        let old = keys(b"old-secret-old-secret-old-secret");
        let user = Uuid::new_v4();
        let (token, _) = old.issue(user).unwrap();
        assert_eq!(old.verify(&token).unwrap(), user);
        let rotated = JwtKeys::new(
            b"new-secret-new-secret-new-secret",
            &[b"old-secret-old-secret-old-secret".to_vec()],
            Duration::from_secs(900),
            Duration::from_secs(60),
        );
        assert_eq!(rotated.verify(&token).unwrap(), user);
        let unrelated = keys(b"another-secret-another-secret-00");
        assert!(unrelated.verify(&token).is_err(), "wrong key");
    }

    #[test]
    fn forged_tokens_are_refused() {
        use base64::Engine as _;
        let k = keys(b"secret-secret-secret-secret-1234");
        let user = Uuid::new_v4();
        let (token, _) = k.issue(user).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = token.split('.').collect();
        // alg: none with the same claims and no signature.
        let none_header = b64.encode(format!(
            r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#,
            key_id(b"secret-secret-secret-secret-1234")
        ));
        assert!(k.verify(&format!("{none_header}.{}.", parts[1])).is_err());
        // Tampered claims (another user) with the original signature.
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["sub"] = Uuid::new_v4().to_string().into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64.encode(claims.to_string()),
            parts[2]
        );
        assert!(k.verify(&tampered).is_err());
        // Expired.
        claims["sub"] = user.to_string().into();
        claims["exp"] = (Utc::now().timestamp() - 3600).into();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key_id(b"secret-secret-secret-secret-1234"));
        let expired = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"secret-secret-secret-secret-1234"),
        )
        .unwrap();
        assert!(k.verify(&expired).is_err());
        // Another token type signed with the right key.
        claims["exp"] = (Utc::now().timestamp() + 3600).into();
        claims["typ"] = "refresh".into();
        let other = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"secret-secret-secret-secret-1234"),
        )
        .unwrap();
        assert!(k.verify(&other).is_err());
        // Garbage and refresh tokens.
        assert!(k.verify("not.a.jwt").is_err());
        assert!(
            k.verify(&format!("{REFRESH_PREFIX}{}", random_secret()))
                .is_err()
        );
    }
}
