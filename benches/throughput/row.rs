//! A row of the table: what was measured, the CPU it used, notes and problems.

use std::time::Duration;

use crate::cpu::Cpu;
use crate::load::Outcome;

/// One line of the table.
pub struct Row {
    pub key: &'static str,
    pub label: String,
    pub outcome: Outcome,
    /// CPU used while it was measured (warm-ups included); `None` when other work shared it.
    pub cpu: Option<Cpu>,
    pub notes: Vec<String>,
    /// Problems found besides the row's own answers.
    pub errors: Vec<String>,
}

impl Row {
    pub fn new(key: &'static str, label: impl Into<String>) -> Self {
        Self {
            key,
            label: label.into(),
            outcome: Outcome::default(),
            cpu: Some(Cpu::default()),
            notes: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Adds CPU used while it was measured, unless other work shared it.
    pub fn add_cpu(&mut self, used: Cpu) {
        if let Some(cpu) = &mut self.cpu {
            cpu.add(used);
        }
    }

    pub fn per_second(&self) -> f64 {
        self.outcome.per_second()
    }

    pub fn per_request(&self) -> Option<PerRequest> {
        let n = u32::try_from(self.outcome.total).ok().filter(|&n| n > 0)?;
        self.cpu.map(|c| PerRequest {
            process: c.process / n,
            redis: c.redis / n,
            redis_commands: c.redis_commands as f64 / f64::from(n),
        })
    }

    pub fn problem(&self) -> Option<String> {
        let problems: Vec<String> = self
            .errors
            .iter()
            .cloned()
            .chain(self.outcome.problem())
            .collect();
        (!problems.is_empty()).then(|| problems.join("; "))
    }
}

/// A row's [`Cpu`] divided by its requests.
pub struct PerRequest {
    pub process: Duration,
    pub redis: Duration,
    pub redis_commands: f64,
}
