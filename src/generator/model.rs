//! The distributions of the design document's synthetic generator (§6.1) and
//! the transfer-time model that fills the four columns §6.1 leaves out.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Poisson};
use rand_pcg::Pcg64Dxsm;

use crate::transfer::{end_to_end_ms, throughput_mbps};

/// The random stream of one chunk: PCG with the DXSM output and a 64-bit
/// multiplier, which takes a stream number (the chunk index).
pub type Stream = Pcg64Dxsm;

/// Number of distinct `node_id` and `peer_id` values (`node-0` … `node-999`).
pub const ID_COUNT: u32 = 1000;
/// Regions drawn uniformly.
pub const REGIONS: [&str; 3] = ["us-east-1", "us-west-2", "eu-west-1"];
/// Zone letters drawn uniformly; a zone is its region plus a letter.
pub const ZONE_LETTERS: [&str; 3] = ["a", "b", "c"];
/// Standard deviation of the log of the multiplicative noise on transfer times.
pub const TIME_NOISE_SIGMA: f64 = 0.1;

/// One generated row, before it is written into the column buffers.
///
/// Enum columns are codes into their schema categories; string columns are
/// indices into the small dictionaries of [`REGIONS`], zones and ids.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub region: u32,
    pub az: u32,
    pub link_type: u8,
    pub node_id: u32,
    pub peer_id: u32,
    pub data_size_bytes: i64,
    pub data_type: u8,
    pub entropy: f64,
    pub compressibility_score: f64,
    pub rtt_ms: f64,
    pub jitter_ms: f64,
    pub available_bandwidth_mbps: f64,
    pub packet_loss_rate: f64,
    pub cpu_usage: f64,
    pub memory_available_mb: i64,
    pub active_transfers: i64,
    pub hde_compression_ratio: f64,
    pub hde_delta_hit_rate: f64,
    pub hde_compression_time_ms: f64,
    pub hde_compressed_size_bytes: i64,
    pub hde_throughput_mbps: f64,
    pub amst_streams: i64,
    pub amst_transfer_rate_mbps: f64,
    pub amst_compression_time_ms: f64,
    pub amst_compressed_size_bytes: i64,
    pub baseline_compression_ratio: f64,
    pub baseline_compression_time_ms: f64,
    pub baseline_compressed_size_bytes: i64,
    pub current_compression: u8,
    pub actual_transfer_time_ms: f64,
    pub actual_throughput_mbps: f64,
    pub total_cpu_overhead_ms: f64,
}

/// Names of the Float64 columns, in the order of [`Row::floats`].
pub const FLOAT_COLUMNS: [&str; 18] = [
    "entropy",
    "compressibility_score",
    "rtt_ms",
    "jitter_ms",
    "available_bandwidth_mbps",
    "packet_loss_rate",
    "cpu_usage",
    "hde_compression_ratio",
    "hde_delta_hit_rate",
    "hde_compression_time_ms",
    "hde_throughput_mbps",
    "amst_transfer_rate_mbps",
    "amst_compression_time_ms",
    "baseline_compression_ratio",
    "baseline_compression_time_ms",
    "actual_transfer_time_ms",
    "actual_throughput_mbps",
    "total_cpu_overhead_ms",
];

/// Names of the Int64 columns, in the order of [`Row::ints`].
pub const INT_COLUMNS: [&str; 7] = [
    "data_size_bytes",
    "memory_available_mb",
    "active_transfers",
    "hde_compressed_size_bytes",
    "amst_streams",
    "amst_compressed_size_bytes",
    "baseline_compressed_size_bytes",
];

/// Names of the Enum columns, in the order of [`Row::codes`].
pub const CODE_COLUMNS: [&str; 3] = ["link_type", "data_type", "current_compression"];

/// Names of the dictionary-indexed String columns, in the order of [`Row::indices`].
pub const INDEX_COLUMNS: [&str; 4] = ["region", "az", "node_id", "peer_id"];

impl Row {
    /// The Float64 values in [`FLOAT_COLUMNS`] order.
    #[inline]
    pub fn floats(&self) -> [f64; 18] {
        [
            self.entropy,
            self.compressibility_score,
            self.rtt_ms,
            self.jitter_ms,
            self.available_bandwidth_mbps,
            self.packet_loss_rate,
            self.cpu_usage,
            self.hde_compression_ratio,
            self.hde_delta_hit_rate,
            self.hde_compression_time_ms,
            self.hde_throughput_mbps,
            self.amst_transfer_rate_mbps,
            self.amst_compression_time_ms,
            self.baseline_compression_ratio,
            self.baseline_compression_time_ms,
            self.actual_transfer_time_ms,
            self.actual_throughput_mbps,
            self.total_cpu_overhead_ms,
        ]
    }

    /// The Int64 values in [`INT_COLUMNS`] order.
    #[inline]
    pub fn ints(&self) -> [i64; 7] {
        [
            self.data_size_bytes,
            self.memory_available_mb,
            self.active_transfers,
            self.hde_compressed_size_bytes,
            self.amst_streams,
            self.amst_compressed_size_bytes,
            self.baseline_compressed_size_bytes,
        ]
    }

    /// The Enum codes in [`CODE_COLUMNS`] order.
    #[inline]
    pub fn codes(&self) -> [u8; 3] {
        [self.link_type, self.data_type, self.current_compression]
    }

    /// The dictionary indices in [`INDEX_COLUMNS`] order.
    #[inline]
    pub fn indices(&self) -> [u32; 4] {
        [self.region, self.az, self.node_id, self.peer_id]
    }
}

/// The fixed distributions of §6.1, built once and shared by every chunk.
#[derive(Debug, Clone)]
pub struct Model {
    rtt: [Gamma<f64>; 3],
    packet_loss: Exp<f64>,
    data_size: LogNormal<f64>,
    active_transfers: Poisson<f64>,
    time_noise: LogNormal<f64>,
}

/// `U(low, high)`, half-open like numpy's `uniform`.
#[inline]
fn uniform(rng: &mut Stream, low: f64, high: f64) -> f64 {
    low + (high - low) * rng.random::<f64>()
}

/// `x` mapped onto `0..n` by Lemire's multiply-shift, with the rejection step
/// that makes it exactly uniform (it redraws with probability below n / 2^32).
#[inline]
fn below(rng: &mut Stream, mut x: u32, n: u32) -> u32 {
    let mut m = u64::from(x) * u64::from(n);
    if (m as u32) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u32) < threshold {
            x = (rng.next_u64() >> 32) as u32;
            m = u64::from(x) * u64::from(n);
        }
    }
    (m >> 32) as u32
}

/// Two independent uniform draws from `0..n1` and `0..n2`, from one 64-bit draw.
#[inline]
fn below_pair(rng: &mut Stream, n1: u32, n2: u32) -> (u32, u32) {
    let bits = rng.next_u64();
    let first = below(rng, bits as u32, n1);
    (first, below(rng, (bits >> 32) as u32, n2))
}

/// A draw of Beta(k, M + 1 - k): the k-th smallest of M uniforms.
///
/// For whole-number shapes this order statistic *is* the Beta distribution,
/// and costs M uniform draws instead of two gamma draws with their logarithms
/// and exponentials (the gamma route is what general Beta samplers use).
#[inline]
fn beta_integer<const M: usize>(rng: &mut Stream, k: usize) -> f64 {
    // Compare the 53-bit mantissas as integers; convert only the one chosen.
    let mut draws = [0u64; M];
    for d in &mut draws {
        *d = rng.next_u64() >> 11;
    }
    draws.sort_unstable();
    // Same mapping as `random::<f64>()`: a 53-bit integer times 2^-53.
    draws[k - 1] as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Index of the first cumulative share above a uniform draw (numpy's `choice` with `p`).
#[inline]
fn choose(rng: &mut Stream, cumulative: &[f64; 2]) -> u8 {
    let u = rng.random::<f64>();
    if u < cumulative[0] {
        0
    } else if u < cumulative[1] {
        1
    } else {
        2
    }
}

/// Link mix dc/metro/wan = 0.4/0.3/0.3, as cumulative shares.
const LINK_CUMULATIVE: [f64; 2] = [0.4, 0.7];
/// Class mix hde/amst/baseline = 0.5/0.3/0.2, as cumulative shares.
const COMPRESSION_CUMULATIVE: [f64; 2] = [0.5, 0.8];
/// Bandwidth bounds in Mbit/s by link type.
const BANDWIDTH: [(f64, f64); 3] = [(1000.0, 10000.0), (100.0, 1000.0), (10.0, 200.0)];
/// AMST stream counts, drawn uniformly.
const AMST_STREAMS: [i64; 3] = [2, 4, 8];

impl Model {
    /// The distributions of §6.1.
    pub fn new() -> Self {
        // The parameters are constants known to be valid: failing here is a
        // programming error caught by the unit tests, never by user input.
        let gamma = |shape, scale| Gamma::new(shape, scale).expect("valid gamma parameters");
        Self {
            rtt: [gamma(2.0, 0.3), gamma(3.0, 2.5), gamma(5.0, 8.0)],
            packet_loss: Exp::new(1.0 / 0.001).expect("valid rate"),
            data_size: LogNormal::new(15.0, 2.0).expect("valid lognormal"),
            active_transfers: Poisson::new(3.0).expect("valid poisson"),
            time_noise: LogNormal::new(0.0, TIME_NOISE_SIGMA).expect("valid lognormal"),
        }
    }

    /// Draws one row.
    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> Row {
        let link = choose(rng, &LINK_CUMULATIVE);
        let (region, zone) = below_pair(rng, REGIONS.len() as u32, ZONE_LETTERS.len() as u32);
        let (node_id, peer_id) = below_pair(rng, ID_COUNT, ID_COUNT);
        let (data_type, streams) = below_pair(rng, 3, AMST_STREAMS.len() as u32);

        let rtt_ms = self.rtt[usize::from(link)].sample(rng);
        let jitter_ms = rtt_ms * uniform(rng, 0.1, 0.3);
        let (bw_low, bw_high) = BANDWIDTH[usize::from(link)];
        let available_bandwidth_mbps = uniform(rng, bw_low, bw_high);
        let packet_loss_rate = self.packet_loss.sample(rng);

        let data_size_bytes = self.data_size.sample(rng) as i64;
        let size = data_size_bytes as f64;
        let mb = size / 1e6;
        let entropy = beta_integer::<4>(rng, 3); // Beta(3, 2)
        let compressibility_score = 1.0 - entropy;

        let cpu_usage = beta_integer::<6>(rng, 2); // Beta(2, 5)
        let memory_available_mb = uniform(rng, 2048.0, 16384.0) as i64;
        let active_transfers = self.active_transfers.sample(rng) as i64;

        let hde_compression_ratio = 1.0 + compressibility_score * uniform(rng, 5.0, 40.0);
        let hde_delta_hit_rate = compressibility_score * uniform(rng, 60.0, 95.0);
        let hde_compression_time_ms = mb * uniform(rng, 10.0, 30.0);
        let hde_compressed_size_bytes = (size / hde_compression_ratio) as i64;

        let amst_streams = AMST_STREAMS[streams as usize];
        let amst_transfer_rate_mbps = available_bandwidth_mbps * uniform(rng, 0.7, 0.95);
        let amst_compression_time_ms = mb * uniform(rng, 5.0, 15.0);
        let amst_compressed_size_bytes = (size / uniform(rng, 1.5, 5.0)) as i64;

        let baseline_compression_ratio = uniform(rng, 2.0, 8.0);
        let baseline_compression_time_ms = mb * uniform(rng, 3.0, 10.0);
        let baseline_compressed_size_bytes = (size / baseline_compression_ratio) as i64;

        let current_compression = choose(rng, &COMPRESSION_CUMULATIVE);
        let noise = self.time_noise.sample(rng);

        // One noise factor per row: every engine's time shares the row's
        // network conditions, so the chosen engine's actual time and HDE's
        // throughput agree whenever HDE is the path used.
        let hde_time = end_to_end_ms(
            hde_compression_time_ms,
            hde_compressed_size_bytes as f64,
            available_bandwidth_mbps,
            rtt_ms,
        ) * noise;
        let (chosen_time, total_cpu_overhead_ms) = match current_compression {
            0 => (hde_time, hde_compression_time_ms),
            1 => (
                end_to_end_ms(
                    amst_compression_time_ms,
                    amst_compressed_size_bytes as f64,
                    amst_transfer_rate_mbps,
                    rtt_ms,
                ) * noise,
                amst_compression_time_ms,
            ),
            _ => (
                end_to_end_ms(
                    baseline_compression_time_ms,
                    baseline_compressed_size_bytes as f64,
                    available_bandwidth_mbps,
                    rtt_ms,
                ) * noise,
                baseline_compression_time_ms,
            ),
        };

        Row {
            region,
            az: region * ZONE_LETTERS.len() as u32 + zone,
            link_type: link,
            data_type: data_type as u8,
            node_id,
            peer_id,
            data_size_bytes,
            entropy,
            compressibility_score,
            rtt_ms,
            jitter_ms,
            available_bandwidth_mbps,
            packet_loss_rate,
            cpu_usage,
            memory_available_mb,
            active_transfers,
            hde_compression_ratio,
            hde_delta_hit_rate,
            hde_compression_time_ms,
            hde_compressed_size_bytes,
            hde_throughput_mbps: throughput_mbps(size, hde_time),
            amst_streams,
            amst_transfer_rate_mbps,
            amst_compression_time_ms,
            amst_compressed_size_bytes,
            baseline_compression_ratio,
            baseline_compression_time_ms,
            baseline_compressed_size_bytes,
            current_compression,
            actual_transfer_time_ms: chosen_time,
            actual_throughput_mbps: throughput_mbps(size, chosen_time),
            total_cpu_overhead_ms,
        }
    }
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}
