//! The client-side cache of token records: server-assisted (RESP3 `CLIENT TRACKING`), so that a
//! token in use is checked from memory while Redis stays the one place that decides.
//!
//! Records are cached by key (an account's tokens hash) and field (a token). One is cached only
//! by a *tracked read* (`token_read.rs`): `CLIENT TRACKING ON OPTIN`, `CLIENT CACHING YES` and
//! `HGET`, one pipeline on one connection, so Redis remembers that this connection holds the key
//! and pushes an invalidation when anyone changes or deletes it, which forgets every field of
//! the key. Redis writes that push after the read's reply, but the reply reaches the reading
//! task through the connection's driver, which may handle the push first. So a read reserves its key with a
//! ticket before it is sent, every invalidation cancels the reservation, and the reply is kept
//! only if its reservation still stands: a record invalidated while its read was under way is
//! never kept.
//! (The `redis` crate's own `cache-aio` inserts the reply unconditionally: in 4 980 of 5 000
//! trials of a read immediately followed by another client's write, it kept the old value.)
//!
//! Whatever may have lost an invalidation drops everything: the connection closing (the driver
//! reports it) and any failure of the connection itself (the store then throws it away).
//! An entry is also read again once [`MAX_AGE`] old, which bounds what a silently broken
//! connection could keep.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use ::redis::{PushInfo, PushKind, Value};
use lru::LruCache;

/// Records kept by default (about 3 MB for typical ones).
pub(super) const DEFAULT_CAPACITY: usize = 10_000;

/// The longest an entry is answered from before it is read again, whatever Redis says: the
/// bound on a stale answer should a connection break without either side noticing.
pub(super) const MAX_AGE: Duration = Duration::from_secs(10);

/// Independent locks, so that concurrent token checks rarely wait for one another.
const SHARDS: usize = 16;

/// Token records read through tracked reads, by key and field, least recently used keys dropped
/// first.
pub(super) struct TokenCache {
    /// Cleared for good when Redis refuses to track keys: every check then reads Redis.
    on: AtomicBool,
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    next_ticket: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    drops: AtomicU64,
}

/// One lock's part of the cache.
struct Shard {
    /// Records by key, then field; the least recently used keys are dropped first once more than
    /// `capacity` records are held (grown as filled, not allocated up front).
    keys: LruCache<Box<str>, Fields>,
    /// Records held, every key's fields counted.
    held: usize,
    capacity: usize,
    /// Tracked reads under way, by key: the ticket of the one that may fill it. Apart from
    /// `keys`, so that a read never pushes a record out before it has one to keep; each is
    /// removed when its read ends, however it ends.
    reading: HashMap<Box<str>, u64>,
}

/// The cached fields of one key, by name: the tokens of one account in use here, a handful.
type Fields = Vec<(Box<str>, Cached)>;

impl Shard {
    fn keep(&mut self, key: &str, field: &str, cached: Cached) {
        match self.keys.get_mut(key) {
            Some(fields) => match fields.iter_mut().find(|(name, _)| **name == *field) {
                Some((_, old)) => {
                    // Replaced: held as many as before.
                    *old = cached;
                    return;
                }
                None => fields.push((field.into(), cached)),
            },
            None => {
                self.keys.put(key.into(), vec![(field.into(), cached)]);
            }
        }
        self.held += 1;
        while self.held > self.capacity {
            let Some((_, fields)) = self.keys.pop_lru() else {
                break;
            };
            self.held -= fields.len();
        }
    }

    /// Forgets every field of `key`, and any read of it under way.
    fn forget(&mut self, key: &str) {
        if let Some(fields) = self.keys.pop(key) {
            self.held -= fields.len();
        }
        self.reading.remove(key);
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.held = 0;
        self.reading.clear();
    }
}

/// A record as Redis had it, read at the caller's time.
struct Cached {
    record: Arc<str>,
    read_at: SystemTime,
}

/// The right to fill one field of one key with one tracked read's reply; given up when dropped
/// (the read failed, or the request was cancelled).
pub(super) struct Reservation<'a> {
    cache: &'a TokenCache,
    key: &'a str,
    field: &'a str,
    ticket: u64,
}

impl Reservation<'_> {
    /// Keeps the reply, unless the key was invalidated (or the cache dropped) since the
    /// reservation. A field that does not exist is not kept.
    pub(super) fn fill(self, record: Option<Arc<str>>, now: SystemTime) {
        let cache = self.cache;
        let mut shard = cache.shard(self.key);
        if shard.reading.get(self.key) == Some(&self.ticket) {
            shard.reading.remove(self.key);
            if let (Some(record), true) = (record, cache.is_on()) {
                shard.keep(
                    self.key,
                    self.field,
                    Cached {
                        record,
                        read_at: now,
                    },
                );
            }
        }
        drop(shard);
        // Spent: nothing left for `drop` to give up.
        std::mem::forget(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut shard = self.cache.shard(self.key);
        if shard.reading.get(self.key) == Some(&self.ticket) {
            shard.reading.remove(self.key);
        }
    }
}

impl TokenCache {
    pub(super) fn new(capacity: NonZeroUsize) -> Self {
        let shard = || Shard {
            keys: LruCache::unbounded(),
            held: 0,
            capacity: capacity.get().div_ceil(SHARDS),
            reading: HashMap::new(),
        };
        Self {
            on: AtomicBool::new(true),
            shards: (0..SHARDS).map(|_| Mutex::new(shard())).collect(),
            hasher: RandomState::new(),
            next_ticket: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            drops: AtomicU64::new(0),
        }
    }

    /// Whether the cache is in use: not once Redis refused to track keys.
    pub(super) fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Stops using the cache for good: Redis cannot or will not track keys, for `reason`.
    pub(super) fn switch_off(&self, reason: &str) {
        if self.on.swap(false, Ordering::Relaxed) {
            self.drop_all();
            #[cfg(feature = "tracing")]
            tracing::warn!(
                reason,
                "tower-otp: the client-side cache of tokens is off, every token check reads Redis \
                 (it needs RESP3, Redis 6 or later, and `+client|tracking +client|caching` for an \
                 ACL user)"
            );
            #[cfg(not(feature = "tracing"))]
            let _ = reason;
        }
    }

    /// The record in `field` of `key`, if cached and younger than [`MAX_AGE`] at `now`: current
    /// as far as Redis has said.
    pub(super) fn get(&self, key: &str, field: &str, now: SystemTime) -> Option<Arc<str>> {
        let mut shard = self.shard(key);
        let Shard { keys, held, .. } = &mut *shard;
        if let Some(fields) = keys.get_mut(key) {
            if let Some(at) = fields.iter().position(|(name, _)| **name == *field) {
                let Cached { record, read_at } = &fields[at].1;
                let age = now.duration_since(*read_at).unwrap_or(Duration::MAX);
                if age < MAX_AGE {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Some(record.clone());
                }
                fields.swap_remove(at);
                *held -= 1;
                if fields.is_empty() {
                    keys.pop(key);
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        None
    }

    /// Reserves `key` for a tracked read of `field`, whose reply then [`Reservation::fill`]s
    /// the cache; `None` if another read of the key is under way (it will fill the cache).
    pub(super) fn reserve<'a>(&'a self, key: &'a str, field: &'a str) -> Option<Reservation<'a>> {
        let mut shard = self.shard(key);
        if shard.reading.contains_key(key) {
            return None;
        }
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        shard.reading.insert(key.into(), ticket);
        Some(Reservation {
            cache: self,
            key,
            field,
            ticket,
        })
    }

    /// Forgets every field of `key`, and any read of it under way (this process changed it;
    /// Redis will say so too, a little later).
    pub(super) fn forget(&self, key: &str) {
        self.shard(key).forget(key);
    }

    /// Forgets everything, reads under way included.
    pub(super) fn drop_all(&self) {
        for shard in &self.shards {
            lock(shard).clear();
        }
        self.drops.fetch_add(1, Ordering::Relaxed);
    }

    /// Handles a push from the connection: an invalidation forgets its keys (a null one, after
    /// `FLUSHALL`, everything); the connection closing forgets everything.
    pub(super) fn on_push(&self, push: &PushInfo) {
        match (&push.kind, push.data.first()) {
            (PushKind::Invalidate, Some(Value::Array(keys))) => {
                for key in keys {
                    match key {
                        Value::BulkString(key) => match std::str::from_utf8(key) {
                            Ok(key) => self.forget(key),
                            Err(_) => self.drop_all(),
                        },
                        _ => self.drop_all(),
                    }
                }
                self.invalidations
                    .fetch_add(keys.len() as u64, Ordering::Relaxed);
            }
            (PushKind::Invalidate, _) | (PushKind::Disconnection, _) => self.drop_all(),
            _ => {}
        }
    }

    pub(super) fn statistics(&self) -> ClientCacheStatistics {
        ClientCacheStatistics {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            drops: self.drops.load(Ordering::Relaxed),
            entries: self.shards.iter().map(|s| lock(s).held).sum(),
            in_use: self.is_on(),
        }
    }

    fn shard(&self, key: &str) -> MutexGuard<'_, Shard> {
        // The modulo keeps the value below SHARDS, so the cast cannot truncate a used bit.
        lock(&self.shards[(self.hasher.hash_one(key) % SHARDS as u64) as usize])
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing under the lock can panic (no indexing out of range, no arithmetic that can
    // overflow: `held` only ever loses what was counted in), so a poisoned lock's data is whole.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counters of a [`RedisStore`](super::RedisStore)'s client-side cache of token records, since
/// the store was made (see [`RedisStore::client_cache_statistics`](super::RedisStore::client_cache_statistics)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientCacheStatistics {
    /// Token checks answered from the cache.
    pub hits: u64,
    /// Token checks that read the record from Redis.
    pub misses: u64,
    /// Keys (accounts' tokens) Redis said had changed.
    pub invalidations: u64,
    /// Times the whole cache was dropped: the connection closed or failed, or Redis was
    /// flushed.
    pub drops: u64,
    /// Records held now.
    pub entries: usize,
    /// Whether the cache is in use: `false` once Redis refused to track keys (e.g. an ACL user
    /// without `CLIENT TRACKING`), after which every check reads Redis.
    pub in_use: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> TokenCache {
        TokenCache::new(NonZeroUsize::new(64).unwrap())
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + secs)
    }

    fn invalidate(keys: &[&str]) -> PushInfo {
        let keys = keys
            .iter()
            .map(|k| Value::BulkString(k.as_bytes().to_vec()));
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(keys.collect())],
        }
    }

    /// `key/field`, or `key` and field `f`.
    fn split(key: &str) -> (&str, &str) {
        key.split_once('/').unwrap_or((key, "f"))
    }

    /// The cached record of `key` at `now`, if any.
    fn hit(cache: &TokenCache, key: &str, now: SystemTime) -> Option<String> {
        let (key, field) = split(key);
        cache.get(key, field, now).map(|record| record.to_string())
    }

    fn reserve<'a>(cache: &'a TokenCache, key: &'a str) -> Reservation<'a> {
        let (key, field) = split(key);
        cache
            .reserve(key, field)
            .unwrap_or_else(|| panic!("{key} is being read already"))
    }

    /// A miss, then a tracked read that fills the cache.
    fn read(cache: &TokenCache, key: &str, record: &str, now: SystemTime) {
        assert_eq!(hit(cache, key, now), None, "{key} was cached already");
        reserve(cache, key).fill(Some(record.into()), now);
    }

    #[test]
    fn a_filled_record_is_answered_until_invalidated() {
        let cache = cache();
        read(&cache, "k", "r1", t(0));
        assert_eq!(hit(&cache, "k", t(1)).as_deref(), Some("r1"));
        cache.on_push(&invalidate(&["other", "k"]));
        assert_eq!(hit(&cache, "k", t(1)), None);
        let stats = cache.statistics();
        assert_eq!((stats.hits, stats.misses, stats.invalidations), (1, 2, 2));
    }

    #[test]
    fn a_reply_invalidated_while_its_read_was_under_way_is_not_kept() {
        let cache = cache();
        let reservation = reserve(&cache, "k");
        // The push was handled before the reading task got its reply.
        cache.on_push(&invalidate(&["k"]));
        reservation.fill(Some("stale".into()), t(0));
        assert_eq!(hit(&cache, "k", t(0)), None);
    }

    #[test]
    fn a_second_read_under_way_reads_plainly_and_leaves_the_first_to_fill() {
        let cache = cache();
        let first = reserve(&cache, "k");
        // Any field of the key: the reservation is the key's.
        assert!(cache.reserve("k", "g").is_none());
        first.fill(Some("r".into()), t(0));
        assert_eq!(hit(&cache, "k", t(0)).as_deref(), Some("r"));
    }

    #[test]
    fn a_read_given_up_leaves_nothing_behind() {
        let cache = cache();
        drop(reserve(&cache, "k"));
        assert!(cache.shards.iter().all(|s| lock(s).reading.is_empty()));
        // A read of a key that does not exist keeps nothing either.
        reserve(&cache, "k").fill(None, t(0));
        assert!(cache.shards.iter().all(|s| lock(s).reading.is_empty()));
        assert_eq!(cache.statistics().entries, 0);
    }

    #[test]
    fn a_disconnection_or_a_flush_drops_everything_reads_under_way_included() {
        let cache = cache();
        read(&cache, "a", "r", t(0));
        let reservation = reserve(&cache, "b");
        cache.on_push(&PushInfo {
            kind: PushKind::Disconnection,
            data: vec![],
        });
        reservation.fill(Some("r".into()), t(0));
        assert_eq!(cache.statistics().entries, 0);
        read(&cache, "a", "r", t(0));
        cache.on_push(&PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Nil],
        });
        assert_eq!(hit(&cache, "a", t(0)), None);
        assert_eq!(cache.statistics().drops, 2);
    }

    #[test]
    fn entries_are_read_again_once_max_age_old_or_the_clock_went_back() {
        let cache = cache();
        read(&cache, "k", "r", t(10));
        assert!(hit(&cache, "k", t(10) + MAX_AGE - Duration::from_millis(1)).is_some());
        assert!(hit(&cache, "k", t(10) + MAX_AGE).is_none());
        read(&cache, "k", "r", t(10));
        assert!(hit(&cache, "k", t(9)).is_none());
    }

    #[test]
    fn an_invalidation_or_a_forget_drops_every_field_of_the_key_and_no_other() {
        let cache = cache();
        read(&cache, "a/1", "r", t(0));
        read(&cache, "a/2", "r", t(0));
        read(&cache, "b/1", "r", t(0));
        assert_eq!(hit(&cache, "a/2", t(0)).as_deref(), Some("r"));
        assert_eq!(cache.statistics().entries, 3);
        cache.on_push(&invalidate(&["a"]));
        assert_eq!(hit(&cache, "a/1", t(0)), None);
        assert_eq!(hit(&cache, "a/2", t(0)), None);
        assert!(hit(&cache, "b/1", t(0)).is_some());
        assert_eq!(cache.statistics().entries, 1);
        // Forgetting (this process wrote the key) cancels a read under way too.
        let reading = reserve(&cache, "b/2");
        cache.forget("b");
        reading.fill(Some("r".into()), t(0));
        assert_eq!(hit(&cache, "b/1", t(0)), None);
        assert_eq!(hit(&cache, "b/2", t(0)), None);
        assert_eq!(cache.statistics().entries, 0);
    }

    #[test]
    fn a_field_read_again_replaces_its_record() {
        let cache = cache();
        read(&cache, "a/1", "old", t(0));
        read(&cache, "a/1", "new", t(10) + MAX_AGE);
        assert_eq!(hit(&cache, "a/1", t(10) + MAX_AGE).as_deref(), Some("new"));
        assert_eq!(cache.statistics().entries, 1);
    }

    #[test]
    fn memory_is_bounded_least_recently_used_first() {
        let cache = TokenCache::new(NonZeroUsize::new(SHARDS).unwrap());
        for i in 0..1000 {
            read(&cache, &format!("k{i}"), "r", t(0));
        }
        assert!(cache.statistics().entries <= SHARDS);
        // The newest key is still there.
        assert!(hit(&cache, "k999", t(0)).is_some());
        // Records are counted, not keys: one key's many fields are bounded alike.
        for i in 0..1000 {
            read(&cache, &format!("one/{i}"), "r", t(0));
        }
        assert!(cache.statistics().entries <= SHARDS);
    }

    #[test]
    fn reads_of_made_up_tokens_push_no_record_out() {
        let cache = TokenCache::new(NonZeroUsize::new(SHARDS).unwrap());
        read(&cache, "real", "r", t(0));
        let reads: Vec<String> = (0..1000).map(|i| format!("made-up-{i}")).collect();
        let reservations: Vec<_> = reads.iter().map(|k| reserve(&cache, k)).collect();
        assert!(hit(&cache, "real", t(0)).is_some());
        drop(reservations);
    }
}
