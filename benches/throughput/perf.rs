//! Profiling control: `perf record` enabled only while a row is measured.

/// Sends `command` to a waiting `perf record --control=fifo:CTL,ACK -D -1` when
/// `TOWER_OTP_BENCH_PERF_CTL` names its control FIFO (and waits for the ACK FIFO's answer when
/// `TOWER_OTP_BENCH_PERF_ACK` names it), so that a profile holds the measured load only.
pub fn perf_control(command: &str) {
    use std::io::{Read, Write};
    let Ok(control) = std::env::var("TOWER_OTP_BENCH_PERF_CTL") else {
        return;
    };
    let mut fifo = std::fs::OpenOptions::new()
        .write(true)
        .open(&control)
        .unwrap_or_else(|e| panic!("open the perf control FIFO {control}: {e}"));
    writeln!(fifo, "{command}").expect("write to the perf control FIFO");
    if let Ok(ack) = std::env::var("TOWER_OTP_BENCH_PERF_ACK") {
        let mut answer = [0u8; 4];
        std::fs::File::open(&ack)
            .and_then(|mut f| f.read_exact(&mut answer))
            .unwrap_or_else(|e| panic!("read the perf ACK FIFO {ack}: {e}"));
    }
}
