//! Users: the [`UserStore`] trait the application implements, and [`MemoryUserStore`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::password::{self, PasswordError};

/// A user as the layer needs to see it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Stable, unique identifier (a primary key). Tokens and lockouts are tied to it.
    pub id: String,
    /// The name the user logs in with.
    pub username: String,
    /// Where codes are sent.
    #[serde(default)]
    pub email: String,
    /// Given name, for messages.
    #[serde(default)]
    pub first_name: String,
    /// Family name, for messages.
    #[serde(default)]
    pub last_name: String,
    /// Inactive users cannot log in (and are told exactly what an unknown user is told).
    #[serde(default = "default_true")]
    pub is_active: bool,
    /// The password as a PHC string (argon2id recommended; see
    /// [`hash_password`](crate::hash_password)), or as Django stores it in
    /// `auth_user.password` (see [`verify_password`](crate::verify_password) for the formats).
    #[serde(default, skip_serializing)]
    pub password_hash: String,
}

fn default_true() -> bool {
    true
}

impl User {
    /// `first_name last_name`, trimmed.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned()
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("email", &self.email)
            .field("is_active", &self.is_active)
            .field("password_hash", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A user store failure. The layer answers 503 to it (fail closed).
#[derive(Debug, thiserror::Error)]
#[error("user store error: {0}")]
pub struct UserStoreError(pub String);

/// Where the layer finds users: implement it over your database.
///
/// ```
/// use tower_otp::{User, UserStore, UserStoreError};
///
/// #[derive(Clone)]
/// struct Db;
///
/// impl UserStore for Db {
///     async fn find_by_username(&self, username: &str) -> Result<Option<User>, UserStoreError> {
///         // SELECT ... WHERE username = $1
///         Ok(None)
///     }
///     async fn find_by_id(&self, id: &str) -> Result<Option<User>, UserStoreError> {
///         Ok(None)
///     }
/// }
/// ```
pub trait UserStore: Send + Sync + 'static {
    /// The user with this username (as the client typed it, surrounding whitespace removed).
    /// Decide here whether usernames are case-sensitive.
    fn find_by_username(
        &self,
        username: &str,
    ) -> impl Future<Output = Result<Option<User>, UserStoreError>> + Send;

    /// The user with this id.
    fn find_by_id(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<User>, UserStoreError>> + Send;

    /// Whether `password` is the user's password. The default verifies the user's hash, an
    /// argon2 PHC string or one of Django's, with [`verify_password`](crate::verify_password)
    /// on the crate's password threads (one per CPU); override it to use another scheme.
    fn check_password(
        &self,
        user: &User,
        password: &str,
    ) -> impl Future<Output = Result<bool, PasswordError>> + Send {
        password::verify_password(user.password_hash.clone(), password.to_owned())
    }

    /// A stored hash that matches no password, of the format and cost of your users' hashes:
    /// an unknown username's password is checked against it, so that refusing it takes as long
    /// as refusing a real user's wrong password. Default
    /// [`ARGON2_STAND_IN`](crate::ARGON2_STAND_IN), the cost of
    /// [`hash_password`](crate::hash_password); a Django project's users want
    /// [`DJANGO_PBKDF2_STAND_IN`](crate::DJANGO_PBKDF2_STAND_IN) (or one of their iteration
    /// count). Fixed per store: nobody can steer it, and a fresh process answers alike.
    fn stand_in_hash(&self) -> &str {
        password::ARGON2_STAND_IN
    }
}

use crate::boxed::BoxFuture;

/// The object-safe twin of [`UserStore`].
pub(crate) trait DynUserStore: Send + Sync + 'static {
    fn find_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, UserStoreError>>;
    fn find_by_id<'a>(&'a self, id: &'a str)
        -> BoxFuture<'a, Result<Option<User>, UserStoreError>>;
    fn check_password<'a>(
        &'a self,
        user: &'a User,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, PasswordError>>;
    fn stand_in_hash(&self) -> &str;
}

impl<T: UserStore> DynUserStore for T {
    fn find_by_username<'a>(
        &'a self,
        username: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, UserStoreError>> {
        Box::pin(UserStore::find_by_username(self, username))
    }
    fn find_by_id<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<User>, UserStoreError>> {
        Box::pin(UserStore::find_by_id(self, id))
    }
    fn check_password<'a>(
        &'a self,
        user: &'a User,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, PasswordError>> {
        Box::pin(UserStore::check_password(self, user, password))
    }
    fn stand_in_hash(&self) -> &str {
        UserStore::stand_in_hash(self)
    }
}

/// A [`UserStore`] over a fixed list of users held in memory: for examples, tests and small
/// deployments. Usernames match exactly.
///
/// ```
/// use tower_otp::{hash_password, MemoryUserStore, User};
///
/// let users = MemoryUserStore::new([User {
///     id: "1".into(),
///     username: "alice".into(),
///     email: "alice@example.com".into(),
///     first_name: "Alice".into(),
///     last_name: "Liddell".into(),
///     is_active: true,
///     password_hash: hash_password("correct horse battery staple").unwrap(),
/// }]);
/// ```
#[derive(Debug, Clone)]
pub struct MemoryUserStore {
    by_username: Arc<HashMap<String, User>>,
    by_id: Arc<HashMap<String, User>>,
    stand_in: Arc<str>,
}

impl Default for MemoryUserStore {
    fn default() -> Self {
        Self::new([])
    }
}

impl MemoryUserStore {
    /// A store holding `users`. A later user with the same username or id replaces an earlier one.
    pub fn new(users: impl IntoIterator<Item = User>) -> Self {
        let users: Vec<User> = users.into_iter().collect();
        Self {
            by_username: Arc::new(
                users
                    .iter()
                    .map(|u| (u.username.clone(), u.clone()))
                    .collect(),
            ),
            by_id: Arc::new(users.into_iter().map(|u| (u.id.clone(), u)).collect()),
            stand_in: password::ARGON2_STAND_IN.into(),
        }
    }

    /// Unknown users' passwords are checked against `hash` (see
    /// [`UserStore::stand_in_hash`]): one of your users' format and cost, e.g.
    /// [`DJANGO_PBKDF2_STAND_IN`](crate::DJANGO_PBKDF2_STAND_IN) for users imported from Django.
    #[must_use]
    pub fn with_stand_in_hash(mut self, hash: &str) -> Self {
        self.stand_in = hash.into();
        self
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

impl UserStore for MemoryUserStore {
    async fn find_by_username(&self, username: &str) -> Result<Option<User>, UserStoreError> {
        Ok(self.by_username.get(username).cloned())
    }

    async fn find_by_id(&self, id: &str) -> Result<Option<User>, UserStoreError> {
        Ok(self.by_id.get(id).cloned())
    }

    fn stand_in_hash(&self) -> &str {
        &self.stand_in
    }
}
