//! Users and second factors in SQL, on [sqlx] (re-exported as `tower_otp::sqlx`): SQLite (a
//! file, or `:memory:`) and PostgreSQL, chosen by the URL (features `sqlite`, `postgres`).
//!
//! - [`SqlUserStore`] reads an **existing** users table: the names of the table and its
//!   columns are configurable ([`UsersTable`]), with a preset for Django's `auth_user`, whose
//!   password hashes [`verify_password`](crate::verify_password) checks as they are.
//! - [`SqlSecondFactorStore`] keeps enrollments in the crate's own tables, created by the
//!   migrations that ship with the crate when you call
//!   [`migrate`](SqlSecondFactorStore::migrate); they never touch the users table.
//!
//! A failing database is a 503 (fail closed); every change is one transaction, so nothing is
//! ever partly written.

mod connect;
mod error;
mod second_factors;
mod users;

pub use connect::connect;
pub use second_factors::SqlSecondFactorStore;
pub use users::{IdType, SqlUserStore, UsersTable};
