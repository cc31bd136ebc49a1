//! The examples' users: the demo users or a `--users` file, in memory; or, with `--database`
//! and `--django`, a Django project's `auth_user` table.

use serde::Deserialize;
use serde_json::{json, Value};
use tower_otp::{
    hash_password, AuthenticatedUser, MemoryUserStore, User, UserStore, UserStoreError,
};

/// The demo users when no `--users` file is given (documented in the README).
const DEMO_USERS: &str = r#"[
  {"username": "alice", "password": "correct horse battery staple", "email": "alice@example.com",
   "first_name": "Alice", "last_name": "Liddell"},
  {"username": "bob", "password": "hunter2 hunter2", "email": "bob@example.com",
   "first_name": "Bob", "last_name": "Inactive", "is_active": false}
]"#;

/// One entry of a `--users` file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    #[serde(default)]
    id: Option<String>,
    username: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default = "yes")]
    is_active: bool,
}

fn yes() -> bool {
    true
}

pub fn load_users(path: Option<&std::path::Path>) -> Result<MemoryUserStore, String> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => DEMO_USERS.to_owned(),
    };
    let entries: Vec<UserEntry> =
        serde_json::from_str(&text).map_err(|e| format!("bad users file: {e}"))?;
    let users = entries
        .into_iter()
        .map(|e| {
            let password_hash = match (e.password_hash, e.password) {
                (Some(hash), _) => hash,
                (None, Some(password)) => hash_password(&password).map_err(|e| e.to_string())?,
                (None, None) => {
                    return Err(format!(
                        "user {}: password or password_hash needed",
                        e.username
                    ))
                }
            };
            Ok(User {
                id: e.id.unwrap_or_else(|| e.username.clone()),
                username: e.username,
                email: e.email,
                first_name: e.first_name,
                last_name: e.last_name,
                is_active: e.is_active,
                password_hash,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(MemoryUserStore::new(users))
}

/// Where the example's users are.
#[derive(Clone)]
pub enum Users {
    /// The demo users, or a `--users` file.
    Memory(MemoryUserStore),
    /// A table of the `--database` (`--django`: Django's `auth_user`).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    Sql(tower_otp::sql::SqlUserStore),
}

impl UserStore for Users {
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, UserStoreError> {
        match self {
            Self::Memory(users) => users.find_by_username(username).await,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Self::Sql(users) => users.find_by_username(username).await,
        }
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<User>, UserStoreError> {
        match self {
            Self::Memory(users) => users.find_by_id(id).await,
            #[cfg(any(feature = "sqlite", feature = "postgres"))]
            Self::Sql(users) => users.find_by_id(id).await,
        }
    }
}

/// `GET /api/me`: the authenticated user, as JSON.
pub async fn me(users: &Users, who: &AuthenticatedUser) -> Value {
    let user = users.find_by_id(&who.id).await.ok().flatten();
    let seconds = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    json!({
        "id": who.id,
        "username": who.username,
        "email": user.as_ref().map(|u| u.email.as_str()),
        "first_name": user.as_ref().map(|u| u.first_name.as_str()),
        "last_name": user.as_ref().map(|u| u.last_name.as_str()),
        "token_issued_at": seconds(who.issued_at),
        "token_expires_at": seconds(who.expires_at),
    })
}
