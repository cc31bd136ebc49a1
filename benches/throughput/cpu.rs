//! CPU accounting: the CPUs, and the CPU time used by this process and by the Redis server
//! (with the commands it executed), read before and after each measurement.

use std::time::Duration;

pub fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// CPU time used so far, read before and after each measurement.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cpu {
    /// This process: the servers and the load generator.
    pub process: Duration,
    /// The Redis server.
    pub redis: Duration,
    /// Commands the Redis server executed, those a script calls included (`INFO stats`
    /// `total_commands_processed`).
    pub redis_commands: u64,
}

impl Cpu {
    pub fn since(self, before: Cpu) -> Cpu {
        Cpu {
            process: self.process.saturating_sub(before.process),
            redis: self.redis.saturating_sub(before.redis),
            // Less the `INFO` that read `before`, which counts itself only afterwards.
            redis_commands: self
                .redis_commands
                .saturating_sub(before.redis_commands)
                .saturating_sub(1),
        }
    }

    pub fn add(&mut self, other: Cpu) {
        self.process += other.process;
        self.redis += other.redis;
        self.redis_commands += other.redis_commands;
    }
}

pub struct CpuClock {
    redis: tower_otp::redis::Connection,
}

impl CpuClock {
    pub fn new(redis_url: &str) -> Self {
        let client = tower_otp::redis::Client::open(redis_url).expect("valid Redis URL");
        Self {
            redis: client.get_connection().expect("connect to Redis"),
        }
    }

    pub fn now(&mut self) -> Cpu {
        let process = process_cpu();
        // Two sections in one INFO: Redis 7 or later (older servers answer with an error, and
        // the Redis columns then read 0).
        let info: String = tower_otp::redis::cmd("INFO")
            .arg("cpu")
            .arg("stats")
            .query(&mut self.redis)
            .unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| *key == name)
                .and_then(|(_, value)| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Cpu {
            process,
            redis: Duration::from_secs_f64(field("used_cpu_sys") + field("used_cpu_user")),
            redis_commands: field("total_commands_processed") as u64,
        }
    }
}

/// CPU time of this process, from `/proc/self/stat` (clock ticks of 1/100 s).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = fields
        .get(11..13)
        .map(|t| t.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
}
