//! Boxed futures and errors, for object-safe traits and body bounds. A leaf: it imports nothing
//! of the crate.

use std::future::Future;
use std::pin::Pin;

/// A boxed `Send` future, for the object-safe twins of the backend traits.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The error bound of request bodies the layer reads.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
