//! Reading training data: finding the malformed lines of a CSV file.

mod csv_check;

pub use csv_check::{check_csv, check_csv_file, BadLine};
