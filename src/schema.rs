//! The 33-column training-data schema of the design document (§2.1), in order,
//! with each column's type, unit and meaning.

use polars::prelude::*;

use crate::error::{DwcpError, Result};

/// Categories of `link_type`.
pub const LINK_TYPES: [&str; 3] = ["dc", "metro", "wan"];
/// Categories of `data_type`.
pub const DATA_TYPES: [&str; 3] = ["vm_memory", "vm_disk", "database"];
/// Categories of `current_compression` (and of the oracle label).
pub const COMPRESSIONS: [&str; 3] = ["hde", "amst", "baseline"];

/// The timestamps the package stores end to end, in µs since the epoch:
/// nanoseconds in a signed 64-bit integer (1677-09-21 to 2262-04-11), which
/// is what InfluxDB, line protocol and pandas' `datetime64[ns]` hold.
pub const TIME_RANGE_US: (i64, i64) = (i64::MIN / 1000 + 1, i64::MAX / 1000);

/// The logical type of a schema column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Datetime(us, UTC)`.
    Timestamp,
    /// Free text (`String`).
    Text,
    /// `Enum` over a fixed list of categories.
    Enum(&'static [&'static str]),
    /// `Int64`: byte sizes, memory and counts.
    Int,
    /// `Float64`.
    Float,
}

/// One column of the schema.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Column name, as in the CSV header of §2.1.
    pub name: &'static str,
    /// Logical type.
    pub kind: Kind,
    /// Unit of the values (empty where there is none).
    pub unit: &'static str,
    /// What the column means.
    pub description: &'static str,
    /// What §2.3 says of the column.
    pub role: Role,
}

/// Where §2.3 of the design document puts a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Needed for training (§2.3 "minimum required fields").
    Required,
    /// Improves accuracy (§2.3 "optional fields").
    Optional,
    /// Carried in the record but named by neither list (ids, jitter, loss, …).
    Other,
}

const fn col(
    name: &'static str,
    kind: Kind,
    unit: &'static str,
    description: &'static str,
    role: Role,
) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        unit,
        description,
        role,
    }
}

use Kind::{Enum as E, Float as F, Int as I, Text as T};
use Role::{Optional as O, Other as X, Required as R};

/// The schema, in the column order of §2.1.
///
/// Roles follow §2.3; its "performance metrics for oracle computation" are read
/// as every engine's time, size and rate column, the path used and the outcome.
#[rustfmt::skip]
pub const SCHEMA: [ColumnSpec; 33] = [
    col("timestamp", Kind::Timestamp, "UTC", "when the compression operation finished", R),
    col("region", T, "", "cloud region of the sending node, e.g. us-east-1", O),
    col("az", T, "", "availability zone: the region plus a letter, e.g. us-east-1a", O),
    col("link_type", E(&LINK_TYPES), "", "network link class: dc (same data centre), metro or wan", R),
    col("node_id", T, "", "sending node", X),
    col("peer_id", T, "", "receiving node", X),
    col("data_size_bytes", I, "bytes", "uncompressed size of the transferred data", R),
    col("data_type", E(&DATA_TYPES), "", "what was transferred: vm_memory, vm_disk or database", O),
    col("entropy", F, "0..1", "normalised byte entropy of the data", O),
    col("compressibility_score", F, "0..1", "1 - entropy", O),
    col("rtt_ms", F, "ms", "round-trip time to the peer", R),
    col("jitter_ms", F, "ms", "round-trip time variation", X),
    col("available_bandwidth_mbps", F, "Mbit/s", "available link bandwidth", R),
    col("packet_loss_rate", F, "0..1", "share of packets lost", X),
    col("cpu_usage", F, "0..1", "CPU utilisation of the sending node", R),
    col("memory_available_mb", I, "MiB", "free memory on the sending node", R),
    col("active_transfers", I, "count", "concurrent transfers on the node", X),
    col("hde_compression_ratio", F, "x", "HDE: uncompressed / compressed size", R),
    col("hde_delta_hit_rate", F, "%", "HDE: share of blocks found in the delta dictionary", R),
    col("hde_compression_time_ms", F, "ms", "HDE: time spent compressing", R),
    col("hde_compressed_size_bytes", I, "bytes", "HDE: compressed size", R),
    col("hde_throughput_mbps", F, "Mbit/s", "HDE: end-to-end throughput", R),
    col("amst_streams", I, "count", "AMST: parallel streams used", X),
    col("amst_transfer_rate_mbps", F, "Mbit/s", "AMST: aggregate transfer rate", R),
    col("amst_compression_time_ms", F, "ms", "AMST: time spent compressing", R),
    col("amst_compressed_size_bytes", I, "bytes", "AMST: compressed size", R),
    col("baseline_compression_ratio", F, "x", "baseline: uncompressed / compressed size", R),
    col("baseline_compression_time_ms", F, "ms", "baseline: time spent compressing", R),
    col("baseline_compressed_size_bytes", I, "bytes", "baseline: compressed size", R),
    col("current_compression", E(&COMPRESSIONS), "", "path DWCP used: hde, amst or baseline", R),
    col("actual_transfer_time_ms", F, "ms", "end-to-end time of the transfer with the path used", R),
    col("actual_throughput_mbps", F, "Mbit/s", "uncompressed bits / actual transfer time", R),
    col("total_cpu_overhead_ms", F, "ms", "CPU time spent compressing with the path used", R),
];

/// The spec of the column called `name`, if the schema has one.
pub fn spec(name: &str) -> Option<&'static ColumnSpec> {
    SCHEMA.iter().find(|c| c.name == name)
}

/// The polars `Enum` type over `categories` (code `i` is `categories[i]`).
pub fn enum_dtype(categories: &[&str]) -> Result<DataType> {
    let frozen = FrozenCategories::new(categories.iter().copied())?;
    Ok(DataType::from_frozen_categories(frozen))
}

impl Kind {
    /// The polars type of a column of this kind.
    pub fn dtype(self) -> Result<DataType> {
        Ok(match self {
            Kind::Timestamp => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
            Kind::Text => DataType::String,
            Kind::Enum(categories) => enum_dtype(categories)?,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
        })
    }
}

/// The schema as a polars [`Schema`].
pub fn polars_schema() -> Result<Schema> {
    SCHEMA
        .iter()
        .map(|c| Ok(Field::new(c.name.into(), c.kind.dtype()?)))
        .collect()
}

/// An `Enum` column whose row `i` is `categories[codes[i]]` (nulls stay null),
/// sharing the codes' buffer.
///
/// Fails with a [`DwcpError::Data`] naming the first row whose code is not a
/// category.
pub fn enum_from_codes(codes: UInt8Chunked, categories: &[&str]) -> Result<Column> {
    let n_categories = categories.len();
    if codes.max().is_some_and(|max| usize::from(max) >= n_categories) {
        let row = codes
            .iter()
            .position(|c| c.is_some_and(|c| usize::from(c) >= n_categories));
        return Err(DwcpError::Data {
            column: codes.name().to_string(),
            row,
            rule: "known_category",
            message: format!(
                "a code is not one of the {n_categories} categories ({})",
                categories.join(", ")
            ),
        });
    }
    let dtype = enum_dtype(categories)?;
    // SAFETY: every code was checked above to index into `categories`, and
    // `dtype` is an Enum with UInt8 physical codes (at most 255 categories).
    let enum_ca = unsafe { Categorical8Chunked::from_cats_and_dtype_unchecked(codes, dtype) };
    Ok(enum_ca.into_series().into_column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_the_33_columns_of_the_document_in_order() {
        let header = "timestamp,region,az,link_type,node_id,peer_id,data_size_bytes,data_type,entropy,compressibility_score,rtt_ms,jitter_ms,available_bandwidth_mbps,packet_loss_rate,cpu_usage,memory_available_mb,active_transfers,hde_compression_ratio,hde_delta_hit_rate,hde_compression_time_ms,hde_compressed_size_bytes,hde_throughput_mbps,amst_streams,amst_transfer_rate_mbps,amst_compression_time_ms,amst_compressed_size_bytes,baseline_compression_ratio,baseline_compression_time_ms,baseline_compressed_size_bytes,current_compression,actual_transfer_time_ms,actual_throughput_mbps,total_cpu_overhead_ms";
        let names: Vec<&str> = SCHEMA.iter().map(|c| c.name).collect();
        assert_eq!(names.join(","), header);
    }

    #[test]
    fn enum_columns_round_trip_their_codes() {
        let codes = UInt8Chunked::from_vec("link_type".into(), vec![2, 0, 1]);
        let c = enum_from_codes(codes, &LINK_TYPES).unwrap();
        assert_eq!(c.dtype(), &Kind::Enum(&LINK_TYPES).dtype().unwrap());
        let s = c.as_materialized_series().cast(&DataType::String).unwrap();
        let values: Vec<_> = s.str().unwrap().iter().flatten().collect();
        assert_eq!(values, ["wan", "dc", "metro"]);
    }

    #[test]
    fn a_bad_code_names_its_row() {
        let codes = UInt8Chunked::from_vec("link_type".into(), vec![0, 3]);
        let err = enum_from_codes(codes, &LINK_TYPES).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
    }
}
