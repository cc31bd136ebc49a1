//! `--database <url>` (and `--django`): enrollments kept in that database, so they survive a
//! restart, and with `--django` the users read from its Django `auth_user` table.

use tower_otp::OtpAuthBuilder;

use super::users::Users;

/// Where users' authenticator apps and recovery codes are kept.
pub enum SecondFactors {
    /// In this process's memory (no `--database`): lost on restart.
    Memory,
    /// In the `--database`, in the crate's own tables.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    Sql(tower_otp::sql::SqlSecondFactorStore),
}

impl SecondFactors {
    pub fn in_memory() -> Self {
        Self::Memory
    }

    /// `layer` with this store for second factors.
    pub fn into_layer(self, layer: OtpAuthBuilder) -> OtpAuthBuilder {
        match self {
            Self::Memory => layer
                .with_second_factor_store(tower_otp::second_factor::MemorySecondFactorStore::new()),
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Self::Sql(store) => layer.with_second_factor_store(store),
        }
    }
}

/// Opens `url`, creates the crate's tables there, and answers the users (the database's
/// `auth_user` with `django`, else `memory_users`) and the second-factor store.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub async fn open(
    url: &str,
    django: bool,
    memory_users: Users,
) -> Result<(Users, SecondFactors), String> {
    use super::redact;
    use tower_otp::sql::{connect, SqlSecondFactorStore, SqlUserStore, UsersTable};

    let pool = connect(url)
        .await
        .map_err(|e| format!("--database: cannot open {}: {e}", redact(url)))?;
    let store = SqlSecondFactorStore::new(pool.clone());
    store
        .migrate()
        .await
        .map_err(|e| format!("--database: cannot create tower-otp's tables: {e}"))?;
    println!("enrollments are kept in {}", redact(url));
    let users = if django {
        println!("users are the Django auth_user table of that database");
        let users = SqlUserStore::new(pool, UsersTable::django()).map_err(|e| e.0)?;
        Users::Sql(users)
    } else {
        memory_users
    };
    Ok((users, SecondFactors::Sql(store)))
}

#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
pub async fn open(_: &str, _: bool, _: Users) -> Result<(Users, SecondFactors), String> {
    Err(
        "--database needs the example built with `--features sqlite` or `--features postgres`"
            .into(),
    )
}
