//! What the store reads back: the token record's codec, and times and counts in replies.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::unix_millis;
use crate::store::records::{StoreError, TokenInfo};

/// The largest time or duration handed to Redis, in milliseconds (10^13 ms: year 2286, or 317
/// years). Sums of two such values stay below 10^14, which Lua still prints as an exact integer
/// when it passes a number to a Redis command.
pub(super) const MAX_MS: u64 = 10_000_000_000_000;

/// A token record: one string, `<issued_at>:<expires_at>:<idle_timeout>:<last_used>:<n>:`
/// followed by the user id (`n` bytes) and the username, so that reading it is one `HGET` of
/// its field in the account's tokens hash.
/// `put_token` in the scripts writes it.
#[derive(Debug, PartialEq)]
pub(super) struct TokenRecord<'a> {
    issued_at: u64,
    expires_at: u64,
    idle_timeout: u64,
    last_used: u64,
    user_id: &'a str,
    username: &'a str,
}

impl<'a> TokenRecord<'a> {
    pub(super) fn parse(record: &'a str) -> Result<Self, StoreError> {
        let malformed = || StoreError::Backend("malformed token record".to_owned());
        let mut parts = record.splitn(6, ':');
        // Digits only (no sign), as the scripts' pattern reads them.
        let mut number = || -> Result<u64, StoreError> {
            parts
                .next()
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
                .ok_or_else(malformed)
        };
        let (issued_at, expires_at, idle_timeout, last_used) =
            (number()?, number()?, number()?, number()?);
        let user_id_len = usize::try_from(number()?).map_err(|_| malformed())?;
        let rest = parts.next().ok_or_else(malformed)?;
        if !rest.is_char_boundary(user_id_len) {
            return Err(malformed());
        }
        let (user_id, username) = rest.split_at(user_id_len);
        Ok(Self {
            issued_at,
            expires_at,
            idle_timeout,
            last_used,
            user_id,
            username,
        })
    }

    pub(super) fn info(&self) -> TokenInfo {
        TokenInfo {
            user_id: self.user_id.to_owned(),
            username: self.username.to_owned(),
            issued_at: time_at(self.issued_at),
            expires_at: time_at(self.expires_at),
        }
    }

    /// Whether the token is live at `now_ms` and its idle timer was restarted recently enough
    /// that this use need not restart it (see [`IDLE_RESTART_FRACTION`]).
    pub(super) fn is_live_and_recently_used(&self, now_ms: u64) -> bool {
        now_ms < self.expires_at
            && now_ms < self.last_used.saturating_add(self.idle_timeout)
            && now_ms.saturating_sub(self.last_used) < self.idle_timeout / IDLE_RESTART_FRACTION
    }
}

/// `authenticate_token` restarts a token's idle timer only once the last restart is at least
/// 1/`IDLE_RESTART_FRACTION` of the idle timeout old (30 s of the default 30 min): a token in
/// steady use is then read, not written, on almost every request. It may so die up to that much
/// earlier than if every use restarted the timer, never later.
const IDLE_RESTART_FRACTION: u64 = 60;

/// Milliseconds since the epoch, capped at [`MAX_MS`].
pub(super) fn time_ms(t: SystemTime) -> u64 {
    unix_millis(t).min(MAX_MS)
}

/// A duration in milliseconds, capped at [`MAX_MS`].
pub(super) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_MS)
}

/// The time `ms` milliseconds after the epoch.
pub(super) fn time_at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A time in a script's reply.
pub(super) fn time_from_ms(ms: i64) -> Result<SystemTime, StoreError> {
    u64::try_from(ms)
        .map(time_at)
        .map_err(|_| StoreError::Backend(format!("negative time {ms} in a record")))
}

pub(super) fn count_from(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Backend(format!("count {n} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_records_parse_with_any_user_id_and_username() {
        let (user_id, username) = ("id:ünï:3", "ghost:ünï:");
        let record = format!("1000:2000:300:1500:{}:{user_id}{username}", user_id.len());
        assert_eq!(
            TokenRecord::parse(&record).unwrap(),
            TokenRecord {
                issued_at: 1000,
                expires_at: 2000,
                idle_timeout: 300,
                last_used: 1500,
                user_id,
                username,
            }
        );
        let empty = TokenRecord::parse("1:2:3:4:0:").unwrap();
        assert_eq!((empty.user_id, empty.username), ("", ""));
    }

    #[test]
    fn malformed_token_records_are_backend_errors() {
        for bad in [
            "",
            "1:2:3:4",
            "1:2:3:4:5",
            "1:2:3:x:0:u",
            "1:2:3:4:9:short",
            "1:2:3:4:1:ü",
            "-1:2:3:4:0:",
            "+1:2:3:4:0:",
            "1::3:4:0:",
            "99999999999999999999:2:3:4:0:",
        ] {
            assert!(
                matches!(TokenRecord::parse(bad), Err(StoreError::Backend(_))),
                "{bad:?} parsed"
            );
        }
    }

    #[test]
    fn huge_durations_are_capped() {
        assert_eq!(duration_ms(Duration::MAX), MAX_MS);
        assert_eq!(duration_ms(Duration::from_millis(1500)), 1500);
    }
}
