//! The first cleaning pass's partial of a block: its rows, each column's
//! missing values (nulls, and NaN in float columns: cleaning takes NaN as
//! missing, see [`super::nan_to_null`]), and the keys of its groups and link
//! types in order of first appearance. Partials merge with
//! [`FirstPass::then`], block after block, into the data set's: what the
//! cleaning plan starts from, and the group tables every block's state takes
//! its ids from.

use polars::prelude::*;

use super::GroupTable;
use crate::error::Result;

/// The column whose values number the link types (the fills' groups).
const LINK_COLUMN: &str = "link_type";

/// What the first pass found in one block, or in several merged.
#[derive(Debug, Clone)]
pub struct FirstPass {
    rows: u64,
    missing: Vec<(String, u64)>,
    groups: GroupTable,
    links: GroupTable,
}

impl FirstPass {
    /// The partial of `df`, its groups keyed by `by` (`None`: pooled). A
    /// block without every `by` column (or without `link_type`) adds no keys
    /// of that kind: the driver refuses such a block by its schema.
    pub fn of(df: &DataFrame, by: Option<&[String]>) -> Result<Self> {
        let missing = df
            .columns()
            .iter()
            .map(|column| Ok((column.name().to_string(), missing_values(column)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut groups = GroupTable::new(by.map(<[String]>::to_vec));
        if by.is_some_and(|by| by.iter().all(|c| df.schema().contains(c))) {
            groups.ids(df)?;
        }
        let mut links = GroupTable::new(Some(vec![LINK_COLUMN.to_string()]));
        if df.schema().contains(LINK_COLUMN) {
            links.ids(df)?;
        }
        Ok(Self {
            rows: df.height() as u64,
            missing,
            groups,
            links,
        })
    }

    /// A partial made again from its parts (as the getters give them).
    pub fn from_parts(rows: u64, missing: Vec<(String, u64)>, groups: GroupTable, links: GroupTable) -> Self {
        Self {
            rows,
            missing,
            groups,
            links,
        }
    }

    /// This partial followed by `later`'s rows: counts added (by column
    /// name; a column only `later` has is appended), `later`'s new keys
    /// numbered on from this one's.
    pub fn then(&mut self, later: &FirstPass) -> Result<()> {
        self.rows += later.rows;
        for (name, count) in &later.missing {
            match self.missing.iter_mut().find(|(known, _)| known == name) {
                Some((_, total)) => *total += count,
                None => self.missing.push((name.clone(), *count)),
            }
        }
        for (table, other) in [(&mut self.groups, &later.groups), (&mut self.links, &later.links)] {
            if let Some(keys) = other.keys() {
                table.ids(keys)?;
            }
        }
        Ok(())
    }

    /// Rows seen.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Each column's missing values (nulls; NaN too in float columns), in the first block's column order.
    pub fn missing(&self) -> &[(String, u64)] {
        &self.missing
    }

    /// The groups of `by`, numbered in order of first appearance.
    pub fn groups(&self) -> &GroupTable {
        &self.groups
    }

    /// The link types, numbered in order of first appearance.
    pub fn links(&self) -> &GroupTable {
        &self.links
    }
}

/// A column's nulls, and its NaN where it holds floats.
fn missing_values(column: &Column) -> Result<u64> {
    let nulls = column.null_count() as u64;
    if column.dtype() != &DataType::Float64 {
        return Ok(nulls);
    }
    let nan = column
        .f64()?
        .downcast_iter()
        .map(|array| match array.validity() {
            Some(valid) => array
                .values()
                .iter()
                .zip(valid.iter())
                .filter(|(v, ok)| *ok && v.is_nan())
                .count(),
            None => array.values().iter().filter(|v| v.is_nan()).count(),
        })
        .sum::<usize>();
    Ok(nulls + nan as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaning::nan_to_null;

    fn block(links: &[&str], regions: &[Option<&str>], values: &[Option<f64>]) -> DataFrame {
        df!("link_type" => links, "region" => regions, "x" => values).unwrap()
    }

    fn keys(table: &GroupTable, column: &str) -> Vec<Option<String>> {
        let keys = table
            .keys()
            .unwrap()
            .column(column)
            .unwrap()
            .str()
            .unwrap()
            .clone();
        keys.iter().map(|k| k.map(str::to_string)).collect()
    }

    #[test]
    fn blocks_merged_equal_the_whole_and_count_nan_as_missing() {
        let by = vec!["region".to_string()];
        let first = block(&["wan", "dc"], &[Some("eu"), None], &[Some(f64::NAN), Some(1.0)]);
        let second = block(
            &["dc", "metro", "wan"],
            &[Some("us"), Some("eu"), None],
            &[None, Some(2.0), Some(3.0)],
        );
        let mut merged = FirstPass::of(&first, Some(&by)).unwrap();
        merged.then(&FirstPass::of(&second, Some(&by)).unwrap()).unwrap();
        let mut whole_frame = first.vstack(&second).unwrap();
        let whole = FirstPass::of(&whole_frame, Some(&by)).unwrap();
        assert_eq!(merged.rows(), 5);
        assert_eq!(merged.missing(), whole.missing());
        assert_eq!(merged.missing()[2], ("x".to_string(), 2)); // one NaN, one null
        nan_to_null(&mut whole_frame).unwrap(); // the rule the count follows
        assert_eq!(whole_frame.column("x").unwrap().null_count(), 2);
        for (a, b, column) in [
            (merged.groups(), whole.groups(), "region"),
            (merged.links(), whole.links(), "link_type"),
        ] {
            assert_eq!(keys(a, column), keys(b, column));
        }
        assert_eq!(
            keys(merged.links(), "link_type"),
            [Some("wan".into()), Some("dc".into()), Some("metro".into())]
        );
        assert_eq!(
            keys(merged.groups(), "region"),
            [Some("eu".into()), None, Some("us".into())]
        );
    }

    #[test]
    fn a_block_without_the_key_columns_adds_no_keys() {
        let by = vec!["absent".to_string()];
        let df = df!("x" => [1.0, f64::NAN]).unwrap();
        let found = FirstPass::of(&df, Some(&by)).unwrap();
        assert!(found.groups().keys().is_none() && found.links().keys().is_none());
        assert_eq!(found.missing(), [("x".to_string(), 1)]);
        let pooled = FirstPass::of(&df, None).unwrap();
        assert_eq!(pooled.groups().count(), 1);
    }
}
