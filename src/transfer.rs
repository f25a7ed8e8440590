//! The transfer-time model shared by the generator and the oracle labels.
//!
//! An engine's end-to-end time for one transfer is its compression time, plus
//! the time to send the compressed bytes at the engine's link rate, plus one
//! round trip:
//!
//! `time_ms = compression_time_ms + compressed_bytes * 8 / (rate_mbps * 1000) + rtt_ms`

/// Milliseconds to move `bytes` at `rate_mbps` megabits per second.
#[inline]
pub fn send_time_ms(bytes: f64, rate_mbps: f64) -> f64 {
    bytes * 8.0 / (rate_mbps * 1000.0)
}

/// End-to-end time of one engine in milliseconds (see the module docs).
#[inline]
pub fn end_to_end_ms(compression_time_ms: f64, compressed_bytes: f64, rate_mbps: f64, rtt_ms: f64) -> f64 {
    compression_time_ms + send_time_ms(compressed_bytes, rate_mbps) + rtt_ms
}

/// Throughput in megabits per second of moving `bytes` in `time_ms`.
#[inline]
pub fn throughput_mbps(bytes: f64, time_ms: f64) -> f64 {
    bytes * 8.0 / (time_ms * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_megabyte_over_eight_megabits_takes_a_second() {
        assert_eq!(send_time_ms(1_000_000.0, 8.0), 1000.0);
        assert_eq!(end_to_end_ms(5.0, 1_000_000.0, 8.0, 2.0), 1007.0);
        assert_eq!(throughput_mbps(1_000_000.0, 1000.0), 8.0);
    }
}
