//! [`SqlSecondFactorStore`]: enrollments and recovery codes in the crate's own tables.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Transaction};

use super::error::{bounded, second_factor_error, DEFAULT_TIMEOUT};
use crate::second_factor::{
    Enrollment, RecoveryCodes, SealedSecret, SecondFactorStore, SecondFactorStoreError,
};
use crate::store::DigestBytes;

/// Users' enrolled authenticator apps (sealed secrets) and recovery codes (HMACs) in two tables
/// of the application's database, `tower_otp_enrollments` and `tower_otp_recovery_codes`,
/// which [`migrate`](Self::migrate) creates. Every change is one transaction; a recovery code
/// is spent by one `DELETE`, so of concurrent uses exactly one wins.
///
/// ```
/// # #[cfg(feature = "sqlite")]
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use tower_otp::second_factor::SecondFactorStore;
/// use tower_otp::sql::SqlSecondFactorStore;
///
/// let pool = tower_otp::sql::connect("sqlite::memory:").await.unwrap();
/// let store = SqlSecondFactorStore::new(pool);
/// store.migrate().await.unwrap();
/// assert!(store.enrollment("42").await.unwrap().is_none());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct SqlSecondFactorStore {
    pool: AnyPool,
    timeout: Duration,
}

impl SqlSecondFactorStore {
    /// A store in the database of `pool`; call [`migrate`](Self::migrate) once before use.
    pub fn new(pool: AnyPool) -> Self {
        Self {
            pool,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// How long one operation may take, all its queries included (default 5 s); then it fails
    /// as unreachable, and the layer answers 503.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Creates or updates the crate's tables (sqlx migrations, recorded in
    /// `_sqlx_migrations`). It leaves every other table alone, and ignores the application's
    /// own migrations recorded there; if your application runs sqlx migrations of its own on
    /// the same database, give its migrator `set_ignore_missing(true)` too.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        // The crate's migrations (`migrations/` in the crate): its own tables, nothing else.
        let mut migrator: Migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await
    }
}

fn hex(digest: &DigestBytes) -> String {
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Result<DigestBytes, SecondFactorStoreError> {
    let bad = || SecondFactorStoreError::Backend(format!("not a digest: {text:?}"));
    if text.len() != 64 {
        return Err(bad());
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(digest)
}

fn millis(t: SystemTime) -> i64 {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Inserts `codes` for `user_id` in `tx`.
async fn insert_codes(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
    codes: &RecoveryCodes,
) -> Result<(), sqlx::Error> {
    for digest in &codes.digests {
        sqlx::query("INSERT INTO tower_otp_recovery_codes (user_id, digest) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hex(digest))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// What `tower_otp_enrollments` and `tower_otp_recovery_codes` hold of one user.
struct StoredEnrollment {
    secret: String,
    key_id: String,
    enrolled_at_ms: i64,
    digests: Vec<String>,
}

impl StoredEnrollment {
    fn into_enrollment(self) -> Result<Enrollment, SecondFactorStoreError> {
        Ok(Enrollment {
            secret: SealedSecret::from_stored(self.secret),
            recovery_codes: RecoveryCodes {
                key_id: self.key_id,
                digests: self
                    .digests
                    .iter()
                    .map(|digest| from_hex(digest))
                    .collect::<Result<_, _>>()?,
            },
            enrolled_at: UNIX_EPOCH
                + Duration::from_millis(u64::try_from(self.enrolled_at_ms).unwrap_or_default()),
        })
    }
}

impl SqlSecondFactorStore {
    /// The enrollment and its codes in one statement: one snapshot of both tables.
    async fn read(&self, user_id: &str) -> Result<Option<StoredEnrollment>, sqlx::Error> {
        let rows: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
            "SELECT e.secret, e.recovery_key_id, e.enrolled_at_ms, c.digest \
             FROM tower_otp_enrollments e \
             LEFT JOIN tower_otp_recovery_codes c ON c.user_id = e.user_id \
             WHERE e.user_id = $1",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let Some((secret, key_id, enrolled_at_ms, _)) = rows.first().cloned() else {
            return Ok(None);
        };
        Ok(Some(StoredEnrollment {
            secret,
            key_id,
            enrolled_at_ms,
            digests: rows.into_iter().filter_map(|(.., digest)| digest).collect(),
        }))
    }

    async fn insert(&self, user_id: &str, enrollment: &Enrollment) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO tower_otp_enrollments (user_id, secret, recovery_key_id, enrolled_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user_id)
        .bind(enrollment.secret.as_str())
        .bind(&enrollment.recovery_codes.key_id)
        .bind(millis(enrollment.enrolled_at))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        // Codes left behind by an enrollment removed outside the store would not be this one's.
        delete_codes(&mut tx, user_id).await?;
        insert_codes(&mut tx, user_id, &enrollment.recovery_codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn remove(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        delete_codes(&mut tx, user_id).await?;
        let removed = sqlx::query("DELETE FROM tower_otp_enrollments WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed.rows_affected() > 0)
    }

    async fn replace_codes(
        &self,
        user_id: &str,
        codes: &RecoveryCodes,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let updated =
            sqlx::query("UPDATE tower_otp_enrollments SET recovery_key_id = $2 WHERE user_id = $1")
                .bind(user_id)
                .bind(&codes.key_id)
                .execute(&mut *tx)
                .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        delete_codes(&mut tx, user_id).await?;
        insert_codes(&mut tx, user_id, codes).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn spend_code(
        &self,
        user_id: &str,
        digest: &DigestBytes,
    ) -> Result<Option<usize>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        // The digest is an HMAC under a key the database never sees: looking it up by its
        // value tells an observer of timing nothing about a code.
        let used =
            sqlx::query("DELETE FROM tower_otp_recovery_codes WHERE user_id = $1 AND digest = $2")
                .bind(user_id)
                .bind(hex(digest))
                .execute(&mut *tx)
                .await?;
        if used.rows_affected() == 0 {
            return Ok(None);
        }
        let (left,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM tower_otp_recovery_codes WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(Some(usize::try_from(left).unwrap_or_default()))
    }
}

async fn delete_codes(
    tx: &mut Transaction<'static, Any>,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM tower_otp_recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map(drop)
}

impl SecondFactorStore for SqlSecondFactorStore {
    async fn enrollment(
        &self,
        user_id: &str,
    ) -> Result<Option<Enrollment>, SecondFactorStoreError> {
        bounded(self.timeout, self.read(user_id))
            .await
            .map_err(second_factor_error)?
            .map(StoredEnrollment::into_enrollment)
            .transpose()
    }

    async fn enroll(
        &self,
        user_id: &str,
        enrollment: &Enrollment,
    ) -> Result<bool, SecondFactorStoreError> {
        bounded(self.timeout, self.insert(user_id, enrollment))
            .await
            .map_err(second_factor_error)
    }

    async fn remove_enrollment(&self, user_id: &str) -> Result<bool, SecondFactorStoreError> {
        bounded(self.timeout, self.remove(user_id))
            .await
            .map_err(second_factor_error)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        codes: &RecoveryCodes,
    ) -> Result<bool, SecondFactorStoreError> {
        bounded(self.timeout, self.replace_codes(user_id, codes))
            .await
            .map_err(second_factor_error)
    }

    async fn use_recovery_code(
        &self,
        user_id: &str,
        digest: &DigestBytes,
    ) -> Result<Option<usize>, SecondFactorStoreError> {
        bounded(self.timeout, self.spend_code(user_id, digest))
            .await
            .map_err(second_factor_error)
    }
}
