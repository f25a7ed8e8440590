//! Group ids across blocks: the keys of `by` numbered in order of first
//! appearance in the data set, block after block. The driver numbers each
//! block's new keys as the first pass merges them; every block's state then
//! takes its rows' ids from the same table (which travels to Ray tasks).

use polars::prelude::*;

use super::RowKeys;
use crate::error::Result;

/// The groups seen so far: their keys, one row per id, and an index from each
/// key's 128-bit hash (see [`RowKeys::strong_hashes`]) to its id.
#[derive(Debug, Clone)]
pub struct GroupTable {
    by: Option<Vec<String>>,
    keys: Option<DataFrame>,
    index: PlHashMap<u128, u32>,
}

impl GroupTable {
    /// An empty table of the key columns `by` (`None`: every row in group 0).
    pub fn new(by: Option<Vec<String>>) -> Self {
        Self {
            by,
            keys: None,
            index: PlHashMap::new(),
        }
    }

    /// A table holding `keys` (one row per group id, in id order), as
    /// [`GroupTable::keys`] gave it.
    pub fn with_keys(by: Vec<String>, keys: DataFrame) -> Result<Self> {
        let mut table = Self::new(Some(by));
        table.ids(&keys)?;
        Ok(table)
    }

    /// The key columns (`None`: pooled).
    pub fn by(&self) -> Option<&[String]> {
        self.by.as_deref()
    }

    /// Each row's group id; keys not seen before are numbered on from the
    /// known ones, in the order the rows show them.
    pub fn ids(&mut self, df: &DataFrame) -> Result<Vec<u32>> {
        let Some(by) = &self.by else {
            return Ok(vec![0; df.height()]);
        };
        let keys = df.select(by.iter().map(String::as_str))?;
        let hashes = RowKeys::new(&keys, None)?.strong_hashes();
        let mut new_rows: Vec<IdxSize> = Vec::new();
        let ids = hashes
            .iter()
            .enumerate()
            .map(|(row, hash)| {
                let next = self.index.len() as u32;
                *self.index.entry(*hash).or_insert_with(|| {
                    new_rows.push(row as IdxSize);
                    next
                })
            })
            .collect();
        if !new_rows.is_empty() || self.keys.is_none() {
            let new = keys.take(&IdxCa::from_vec("row".into(), new_rows))?;
            self.keys = Some(match self.keys.take() {
                Some(mut known) => {
                    known.vstack_mut(&new)?;
                    known
                }
                None => new,
            });
        }
        Ok(ids)
    }

    /// How many groups (1 when pooled).
    pub fn count(&self) -> usize {
        match self.by {
            None => 1,
            Some(_) => self.index.len(),
        }
    }

    /// The groups' keys, one row per id (`None` when pooled or before any row).
    pub fn keys(&self) -> Option<&DataFrame> {
        self.by.as_ref().and(self.keys.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keys_in_order_of_first_appearance_across_blocks() {
        let by = vec!["a".to_string(), "b".to_string()];
        let mut table = GroupTable::new(Some(by.clone()));
        let first = df!("a" => [Some("x"), Some("y"), Some("x"), None], "b" => [1, 2, 1, 1]).unwrap();
        let second = df!("a" => [None, Some("z"), Some("y")], "b" => [1, 3, 2]).unwrap();
        assert_eq!(table.ids(&first).unwrap(), [0, 1, 0, 2]);
        assert_eq!(table.ids(&second).unwrap(), [2, 3, 1]);
        assert_eq!(table.count(), 4);
        let keys = table.keys().unwrap().clone();
        let a: Vec<Option<&str>> = keys.column("a").unwrap().str().unwrap().iter().collect();
        assert_eq!(a, [Some("x"), Some("y"), None, Some("z")]);
        let mut again = GroupTable::with_keys(by, keys).unwrap();
        assert_eq!(again.ids(&second).unwrap(), [2, 3, 1]);
        assert_eq!(again.count(), 4);
    }

    #[test]
    fn pooled_rows_are_all_in_group_zero() {
        let mut table = GroupTable::new(None);
        let df = df!("a" => [1, 2, 3]).unwrap();
        assert_eq!(table.ids(&df).unwrap(), [0, 0, 0]);
        assert_eq!((table.count(), table.keys().is_none()), (1, true));
    }
}
