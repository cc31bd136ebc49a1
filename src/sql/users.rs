//! [`SqlUserStore`]: users read from an existing table, Django's `auth_user` or one of yours.

use std::fmt;
use std::time::Duration;

use sqlx::AnyPool;

use super::error::{bounded, user_error, DEFAULT_TIMEOUT};
use crate::user::{User, UserStore, UserStoreError};

/// The type of a users table's id column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdType {
    /// An integer (Django's `AutoField`/`BigAutoField`): ids that are not integers name no one.
    Integer,
    /// Anything else (text, a UUID, …), compared as text.
    Text,
}

/// Which table holds the users, and which of its columns holds what. Names are checked when
/// the store is made (letters, digits and `_`, not starting with a digit; the table may be
/// `schema.table`) and quoted in the queries, which bind every value: no query is built from
/// input. Quoted, names are case-sensitive on PostgreSQL: write them as the table has them
/// (unquoted names there are lower case).
///
/// ```
/// use tower_otp::sql::{IdType, UsersTable};
///
/// // Django's own table, as `createsuperuser` fills it.
/// let django = UsersTable::django();
/// assert_eq!(django.table, "auth_user");
/// // A table of your own: no names, no active flag.
/// let mine = UsersTable {
///     table: "accounts".into(),
///     id: "uuid".into(),
///     id_type: IdType::Text,
///     username: "login".into(),
///     password_hash: "pw_hash".into(),
///     email: "email".into(),
///     first_name: None,
///     last_name: None,
///     is_active: None,
///     stand_in_hash: None, // your hashes are hash_password's
/// };
/// # let _ = mine;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersTable {
    /// The table (`users`, or `schema.users`).
    pub table: String,
    /// The primary key column.
    pub id: String,
    /// The primary key's type.
    pub id_type: IdType,
    /// The column users log in with (matched exactly, as the table's collation compares).
    pub username: String,
    /// The password hash column: argon2 PHC strings, or Django's stored hashes.
    pub password_hash: String,
    /// The e-mail column, where codes go.
    pub email: String,
    /// The given-name column, if any.
    pub first_name: Option<String>,
    /// The family-name column, if any.
    pub last_name: Option<String>,
    /// A boolean column saying whether the user may log in; without it every user may.
    pub is_active: Option<String>,
    /// What unknown users' passwords are checked against
    /// ([`UserStore::stand_in_hash`]): a hash of your users' format and cost. Default (`None`):
    /// [`ARGON2_STAND_IN`](crate::ARGON2_STAND_IN).
    pub stand_in_hash: Option<String>,
}

impl UsersTable {
    /// Django's `auth_user` (`django.contrib.auth`): integer `id`, `username`, `password`,
    /// `email`, `first_name`, `last_name`, `is_active`; unknown users checked against Django
    /// 5.2's default hasher ([`DJANGO_PBKDF2_STAND_IN`](crate::DJANGO_PBKDF2_STAND_IN)).
    pub fn django() -> Self {
        Self {
            table: "auth_user".into(),
            id: "id".into(),
            id_type: IdType::Integer,
            username: "username".into(),
            password_hash: "password".into(),
            email: "email".into(),
            first_name: Some("first_name".into()),
            last_name: Some("last_name".into()),
            is_active: Some("is_active".into()),
            stand_in_hash: Some(crate::DJANGO_PBKDF2_STAND_IN.into()),
        }
    }

    /// The `SELECT … FROM … WHERE` of both look-ups, with every name checked and quoted.
    fn select(&self) -> Result<String, String> {
        let text = |name: &Option<String>| -> Result<String, String> {
            match name {
                Some(name) => Ok(format!("COALESCE(CAST({} AS TEXT), '')", quoted(name)?)),
                None => Ok("''".into()),
            }
        };
        let active = match &self.is_active {
            Some(name) => format!(
                "CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT)",
                quoted(name)?
            ),
            None => "CAST(1 AS BIGINT)".into(),
        };
        let table = self
            .table
            .split('.')
            .map(quoted)
            .collect::<Result<Vec<_>, _>>()?
            .join(".");
        Ok(format!(
            "SELECT CAST({id} AS TEXT), CAST({username} AS TEXT), CAST({password} AS TEXT), \
             {email}, {first}, {last}, {active} FROM {table} WHERE ",
            id = quoted(&self.id)?,
            username = quoted(&self.username)?,
            password = quoted(&self.password_hash)?,
            email = text(&Some(self.email.clone()))?,
            first = text(&self.first_name)?,
            last = text(&self.last_name)?,
        ))
    }
}

/// `name` in double quotes, if it is a plain SQL identifier.
fn quoted(name: &str) -> Result<String, String> {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        Ok(format!("\"{name}\""))
    } else {
        Err(format!(
            "{name:?} is not a plain SQL name (letters, digits, _)"
        ))
    }
}

/// Users read from a table of the application's database (SQLite or PostgreSQL). Passwords are
/// checked by [`verify_password`](crate::verify_password) on the crate's password threads:
/// argon2 PHC strings and Django's stored hashes alike.
///
/// ```no_run
/// use tower_otp::sql::{SqlUserStore, UsersTable};
/// use tower_otp::{notify::ConsoleNotifier, OtpAuthLayer};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = tower_otp::sql::connect("postgres://app@localhost/app").await?;
/// let users = SqlUserStore::new(pool, UsersTable::django())?;
/// let layer = OtpAuthLayer::builder(users, ConsoleNotifier::new()).build()?;
/// # let _ = layer;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlUserStore {
    pool: AnyPool,
    by_username: String,
    by_id: String,
    id_type: IdType,
    stand_in: String,
    timeout: Duration,
}

impl fmt::Debug for SqlUserStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlUserStore")
            .field("by_username", &self.by_username)
            .finish_non_exhaustive()
    }
}

impl SqlUserStore {
    /// A store over `table` in the database of `pool`. Fails if a name in `table` is not a
    /// plain SQL name.
    pub fn new(pool: AnyPool, table: UsersTable) -> Result<Self, UserStoreError> {
        let select = table.select().map_err(UserStoreError)?;
        let username = quoted(&table.username).map_err(UserStoreError)?;
        let id = match table.id_type {
            IdType::Integer => quoted(&table.id),
            // A uuid (or other) column compared with a text parameter: as text.
            IdType::Text => quoted(&table.id).map(|id| format!("CAST({id} AS TEXT)")),
        }
        .map_err(UserStoreError)?;
        Ok(Self {
            pool,
            by_username: format!("{select}{username} = $1"),
            by_id: format!("{select}{id} = $1"),
            id_type: table.id_type,
            stand_in: table
                .stand_in_hash
                .unwrap_or_else(|| crate::ARGON2_STAND_IN.into()),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// How long one look-up may take (default 5 s); then it fails, and the layer answers 503.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

type Row = (String, String, String, String, String, String, i64);

fn user((id, username, password_hash, email, first_name, last_name, active): Row) -> User {
    User {
        id,
        username,
        email,
        first_name,
        last_name,
        is_active: active != 0,
        password_hash,
    }
}

impl UserStore for SqlUserStore {
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, UserStoreError> {
        let query = sqlx::query_as::<_, Row>(&self.by_username).bind(username);
        bounded(self.timeout, query.fetch_optional(&self.pool))
            .await
            .map(|row| row.map(user))
            .map_err(user_error)
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<User>, UserStoreError> {
        let query = sqlx::query_as::<_, Row>(&self.by_id);
        let query = match self.id_type {
            IdType::Integer => match id.parse::<i64>() {
                Ok(id) => query.bind(id),
                // Not an integer: nobody's id.
                Err(_) => return Ok(None),
            },
            IdType::Text => query.bind(id),
        };
        bounded(self.timeout, query.fetch_optional(&self.pool))
            .await
            .map(|row| row.map(user))
            .map_err(user_error)
    }

    fn stand_in_hash(&self) -> &str {
        &self.stand_in
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_quoted() {
        let select = UsersTable::django().select().unwrap();
        assert!(select.contains(r#"FROM "auth_user" WHERE "#), "{select}");
        let schema = UsersTable {
            table: "app.users".into(),
            ..UsersTable::django()
        };
        assert!(schema.select().unwrap().contains(r#"FROM "app"."users""#));
        for bad in ["users; DROP TABLE x", "a\"b", "", "1users", "a b"] {
            let table = UsersTable {
                table: bad.into(),
                ..UsersTable::django()
            };
            assert!(table.select().is_err(), "{bad:?}");
            let column = UsersTable {
                email: bad.into(),
                ..UsersTable::django()
            };
            assert!(column.select().is_err(), "{bad:?}");
        }
    }
}
