//! Exact order statistics of values spread over shards, found digit by digit.
//!
//! A value's rank is searched in its 64-bit order key ([`order_key`]): a pass
//! over the shards counts the values by the next 16 bits of their key among
//! those sharing the prefix found so far ([`Partial::Sparse`] while few
//! digits have values, [`Partial::Counts`], 65,536 counters, past that:
//! a search per group of many small groups stays small), the counts of all
//! shards are added, and the bucket
//! holding the rank extends the prefix. Once the prefix holds at most
//! [`COLLECT_AT_MOST`] values, the next pass collects them
//! ([`Partial::Values`]) and selection finishes the search; a full 64-bit
//! prefix is the value itself. Three passes suffice for real data, four at
//! most for any data.

use polars::prelude::*;
use rayon::prelude::*;

use crate::error::{DwcpError, Result};

/// Bits of the order key resolved per counting pass.
const DIGIT: u32 = 16;

/// A prefix holding at most this many values is resolved by collecting them.
pub const COLLECT_AT_MOST: u64 = 1 << 18;

/// Digits a [`Partial::Sparse`] holds at most before it becomes [`Partial::Counts`]
/// (16 bytes a digit: well under the dense counters' 512 KiB).
pub const SPARSE_AT_MOST: usize = 1 << 10;

/// The order-preserving key of a float: `a.total_cmp(&b)` is `key(a).cmp(&key(b))`.
pub fn order_key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The float whose [`order_key`] is `key`.
pub fn from_order_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

/// Which values of a shard a pass looks at for one search, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Probe {
    /// The key bits found so far, in the top `depth` bits (the rest zero).
    pub prefix: u64,
    /// How many leading bits of the key are fixed (0, 16, 32 or 48).
    pub depth: u32,
    /// Collect the matching values instead of counting them.
    pub collect: bool,
}

/// A shard's (or a merge of shards') contribution to one [`Probe`].
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    /// Matching values per next digit of their key.
    Counts(Vec<u64>),
    /// The same counts where few digits have values: `(digit, count)` of
    /// those that do, in digit order (at most [`SPARSE_AT_MOST`]).
    Sparse(Vec<(u16, u64)>),
    /// The matching values themselves.
    Values(Vec<f64>),
}

impl Probe {
    /// The first probe: every value, counted by its top digit.
    pub const ALL: Probe = Probe {
        prefix: 0,
        depth: 0,
        collect: false,
    };

    /// Whether `key` starts with this probe's prefix.
    #[inline]
    pub fn matches(&self, key: u64) -> bool {
        self.depth == 0 || key >> (64 - self.depth) == self.prefix >> (64 - self.depth)
    }

    /// The next digit of `key` after the prefix.
    #[inline]
    fn digit(&self, key: u64) -> usize {
        ((key << self.depth) >> (64 - DIGIT)) as usize
    }

    /// An empty partial of this probe's kind (what a shard without values gives).
    pub fn empty(&self) -> Partial {
        if self.collect {
            Partial::Values(Vec::new())
        } else {
            Partial::Sparse(Vec::new())
        }
    }

    /// Adds one value to `partial` (of this probe's kind) if it matches.
    #[inline]
    pub fn add(&self, partial: &mut Partial, value: f64) {
        let key = order_key(value);
        if !self.matches(key) {
            return;
        }
        match partial {
            Partial::Counts(counts) => counts[self.digit(key)] += 1,
            Partial::Sparse(pairs) => {
                add_sparse(pairs, self.digit(key) as u16, 1);
                if pairs.len() > SPARSE_AT_MOST {
                    *partial = Partial::Counts(dense(pairs));
                }
            }
            Partial::Values(values) => values.push(value),
        }
    }
}

/// Adds `count` values of `digit` to sorted sparse counts.
fn add_sparse(pairs: &mut Vec<(u16, u64)>, digit: u16, count: u64) {
    match pairs.binary_search_by_key(&digit, |&(d, _)| d) {
        Ok(at) => pairs[at].1 += count,
        Err(at) => pairs.insert(at, (digit, count)),
    }
}

/// Sparse counts as the 65,536 counters.
fn dense(pairs: &[(u16, u64)]) -> Vec<u64> {
    let mut counts = vec![0; 1 << DIGIT];
    for &(digit, count) in pairs {
        counts[digit as usize] += count;
    }
    counts
}

/// Two sorted sparse counts added, in digit order.
fn sum_sparse(a: &[(u16, u64)], b: &[(u16, u64)]) -> Vec<(u16, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => {
                out.push(x);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(y);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((x.0, x.1 + y.1));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl Partial {
    /// `(digit, count)` of the digits that have values, in digit order (a count partial).
    fn digit_counts(&self) -> Box<dyn Iterator<Item = (u64, u64)> + '_> {
        match self {
            Partial::Counts(counts) => Box::new(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(|(d, &c)| (d as u64, c)),
            ),
            Partial::Sparse(pairs) => Box::new(pairs.iter().map(|&(d, c)| (u64::from(d), c))),
            Partial::Values(_) => Box::new(std::iter::empty()),
        }
    }

    /// `other` merged into `self`: counts added, values appended. The order
    /// of merging does not change any answer.
    pub fn merge(&mut self, other: &Partial) -> Result<()> {
        match (&mut *self, other) {
            (Partial::Counts(a), Partial::Counts(b)) if a.len() == b.len() => {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                Ok(())
            }
            (Partial::Counts(a), Partial::Sparse(b)) if a.len() == 1 << DIGIT => {
                b.iter().for_each(|&(d, c)| a[d as usize] += c);
                Ok(())
            }
            (Partial::Sparse(a), Partial::Counts(b)) if b.len() == 1 << DIGIT => {
                let mut counts = b.clone();
                a.iter().for_each(|&(d, c)| counts[d as usize] += c);
                *self = Partial::Counts(counts);
                Ok(())
            }
            (Partial::Sparse(a), Partial::Sparse(b)) => {
                let sum = sum_sparse(a, b);
                *self = if sum.len() > SPARSE_AT_MOST {
                    Partial::Counts(dense(&sum))
                } else {
                    Partial::Sparse(sum)
                };
                Ok(())
            }
            (Partial::Values(a), Partial::Values(b)) => {
                a.extend_from_slice(b);
                Ok(())
            }
            _ => Err(DwcpError::invalid_argument(
                "partials",
                "partials of different probes cannot be merged",
            )),
        }
    }
}

/// The search for the value of one rank (0-based, in ascending total order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Search {
    /// The next pass must run `probe`; the rank counts within its values.
    Probing {
        /// What the next pass computes for this search.
        probe: Probe,
        /// The rank among the values `probe` matches.
        rank: u64,
    },
    /// The value of the rank.
    Found(f64),
}

impl Search {
    /// A search for `rank` among all values.
    pub fn new(rank: u64) -> Self {
        Self::Probing {
            probe: Probe::ALL,
            rank,
        }
    }

    /// The search after a pass that gave `merged` (every shard's partial for
    /// this search's probe, merged). A rank beyond the values is an error.
    pub fn advance(self, merged: &mut Partial) -> Result<Self> {
        let Self::Probing { probe, rank } = self else {
            return Ok(self);
        };
        let beyond = || DwcpError::invalid_argument("rank", format!("rank {rank} is beyond the values"));
        match merged {
            Partial::Values(values) => {
                let r = usize::try_from(rank)
                    .ok()
                    .filter(|&r| r < values.len())
                    .ok_or_else(beyond)?;
                let (_, v, _) = values.select_nth_unstable_by(r, f64::total_cmp);
                Ok(Self::Found(*v))
            }
            Partial::Counts(_) | Partial::Sparse(_) => {
                let mut below = 0u64;
                let (digit, count) = merged
                    .digit_counts()
                    .find(|&(_, c)| {
                        below += c;
                        rank < below
                    })
                    .ok_or_else(beyond)?;
                let depth = probe.depth + DIGIT;
                let prefix = probe.prefix | digit << (64 - depth);
                let rank = rank - (below - count);
                if depth == 64 {
                    return Ok(Self::Found(from_order_key(prefix)));
                }
                let collect = count <= COLLECT_AT_MOST;
                Ok(Self::Probing {
                    probe: Probe {
                        prefix,
                        depth,
                        collect,
                    },
                    rank,
                })
            }
        }
    }
}

/// Group ids a shard's probes may use (a table of this many entries is built).
pub const MAX_GROUPS: usize = 1 << 20;

/// Rows per parallel task of [`shard_partials`].
const CHUNK: usize = 1 << 20;

/// One shard's partials for `probes`, each searching among one group's
/// values: row `i` holds `values[i]` of group `groups[i]` (group 0 for all
/// when `groups` is `None`); null values are not counted.
pub fn shard_partials(
    values: &Float64Chunked,
    groups: Option<&UInt32Chunked>,
    probes: &[(u32, Probe)],
) -> Result<Vec<Partial>> {
    if groups.is_some_and(|g| g.len() != values.len()) {
        return Err(DwcpError::invalid_argument(
            "groups",
            "must have one group per value",
        ));
    }
    let width = probes.iter().map(|(g, _)| *g as usize + 1).max().unwrap_or(0);
    if width > MAX_GROUPS {
        return Err(DwcpError::invalid_argument(
            "probes",
            format!("group ids must stay below {MAX_GROUPS}"),
        ));
    }
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); width];
    for (i, (group, _)) in probes.iter().enumerate() {
        by_group[*group as usize].push(i);
    }
    let empty = || probes.iter().map(|(_, p)| p.empty()).collect::<Vec<_>>();
    let chunk = |start: usize| -> Vec<Partial> {
        let len = CHUNK.min(values.len() - start);
        let mut partials = empty();
        let values = values.slice(start as i64, len);
        let mut add = |group: Option<u32>, value: Option<f64>| {
            let (Some(group), Some(value)) = (group, value) else {
                return;
            };
            for &i in by_group.get(group as usize).map_or(&[][..], Vec::as_slice) {
                probes[i].1.add(&mut partials[i], value);
            }
        };
        match groups {
            Some(groups) => {
                let groups = groups.slice(start as i64, len);
                values.iter().zip(groups.iter()).for_each(|(v, g)| add(g, v));
            }
            None => values.iter().for_each(|v| add(Some(0), v)),
        }
        partials
    };
    let starts: Vec<usize> = (0..values.len()).step_by(CHUNK).collect();
    starts
        .into_par_iter()
        .map(|s| Ok(chunk(s)))
        .try_reduce(empty, |mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                x.merge(y)?;
            }
            Ok(a)
        })
}

/// The ranks of quantile `q` among `n` values, as pandas' linear
/// interpolation takes them: the lower rank, the upper one when the
/// interpolation needs it, and the fraction between them.
pub fn quantile_ranks(q: f64, n: u64) -> (u64, Option<u64>, f64) {
    let position = q * (n - 1) as f64;
    let low = (position.floor() as u64).min(n - 1);
    let fraction = position - low as f64;
    (low, (fraction > 0.0).then_some(low + 1), fraction)
}

/// The quantile from the values of its ranks (see [`quantile_ranks`]).
pub fn interpolate(low: f64, high: Option<f64>, fraction: f64) -> f64 {
    let high = high.unwrap_or(low);
    low + (high - low) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaning::quantiles;

    /// The value of every rank searched shard by shard, as a driver would.
    fn search(shards: &[Vec<f64>], rank: u64) -> (f64, usize) {
        let mut s = Search::new(rank);
        let mut passes = 0;
        while let Search::Probing { probe, .. } = s {
            let mut merged = probe.empty();
            for shard in shards {
                let mut partial = probe.empty();
                shard.iter().for_each(|&v| probe.add(&mut partial, v));
                merged.merge(&partial).unwrap();
            }
            s = s.advance(&mut merged).unwrap();
            passes += 1;
        }
        let Search::Found(v) = s else { unreachable!() };
        (v, passes)
    }

    #[test]
    fn order_keys_sort_as_total_cmp() {
        let mut xs = [
            3.5,
            -0.0,
            0.0,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-310,
            -2.0,
        ];
        let mut by_key = xs;
        xs.sort_by(f64::total_cmp);
        by_key.sort_by_key(|&x| order_key(x));
        assert_eq!(xs.map(f64::to_bits), by_key.map(f64::to_bits));
        for x in xs {
            assert_eq!(from_order_key(order_key(x)).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn every_rank_is_exact_whatever_the_shards() {
        // Skewed, tied, signed values in unequal shards, one empty.
        let values: Vec<f64> = (0..200_003u64)
            .map(|i| ((i * 7919) % 10_007) as f64 / ((i % 13) as f64 - 6.5))
            .collect();
        let shards = vec![
            values[..5].to_vec(),
            Vec::new(),
            values[5..150_000].to_vec(),
            values[150_000..].to_vec(),
        ];
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        for rank in [0, 1, 77, 100_001, 200_002] {
            let (v, passes) = search(&shards, rank);
            assert_eq!(v.to_bits(), sorted[rank as usize].to_bits(), "rank {rank}");
            assert!(passes <= 4);
        }
        for q in [0.25, 0.5, 0.75] {
            let (low, high, fraction) = quantile_ranks(q, values.len() as u64);
            let got = interpolate(
                search(&shards, low).0,
                high.map(|h| search(&shards, h).0),
                fraction,
            );
            assert_eq!(Some(vec![got]), quantiles(&mut values.clone(), &[q]));
        }
    }

    #[test]
    fn shard_partials_count_each_group_for_its_probes() {
        let values = Float64Chunked::from_iter_options(
            "v".into(),
            [Some(1.0), None, Some(3.0), Some(2.0)].into_iter(),
        );
        let groups = UInt32Chunked::from_slice("g".into(), &[0, 0, 1, 1]);
        let collect = Probe {
            collect: true,
            ..Probe::ALL
        };
        let got = shard_partials(&values, Some(&groups), &[(1, collect), (0, Probe::ALL)]).unwrap();
        assert_eq!(got[0], Partial::Values(vec![3.0, 2.0]));
        assert_eq!(
            got[1].digit_counts().collect::<Vec<_>>(),
            [(Probe::ALL.digit(order_key(1.0)) as u64, 1)]
        );
        assert!(shard_partials(&values, Some(&groups.slice(0, 2)), &[]).is_err());
        assert!(shard_partials(&values, None, &[(u32::MAX, Probe::ALL)]).is_err());
    }

    #[test]
    fn identical_values_end_at_the_full_key() {
        let shards = vec![vec![2.5; 150_000], vec![2.5; 150_000]]; // more than COLLECT_AT_MOST
        assert_eq!(search(&shards, 150_000), (2.5, 4));
    }

    #[test]
    fn a_rank_beyond_the_values_and_mixed_partials_are_refused() {
        let mut counts = Probe::ALL.empty();
        assert!(Search::new(0).advance(&mut counts).is_err());
        let values = Partial::Values(vec![1.0]);
        assert!(counts.merge(&values).is_err());
    }

    #[test]
    fn sparse_and_dense_counts_give_the_same_searches() {
        // few values: every shard's partial stays sparse; many: they become dense part way
        let few: Vec<Vec<f64>> = (0..5)
            .map(|k| (0..40).map(|i| f64::from(i * 7 + k) * 0.3 - 20.0).collect())
            .collect();
        let many: Vec<Vec<f64>> = (0..3)
            .map(|k| {
                (0..5_000)
                    .map(|i| ((i * 7919 + k * 104_729) % 9_973) as f64 * 1.7e-3)
                    .collect()
            })
            .collect();
        for shards in [few, many] {
            let mut sorted: Vec<f64> = shards.concat();
            sorted.sort_by(f64::total_cmp);
            for rank in [0, sorted.len() / 4, sorted.len() / 2, sorted.len() - 1] {
                assert_eq!(search(&shards, rank as u64).0, sorted[rank], "rank {rank}");
            }
        }
    }

    #[test]
    fn sparse_partials_merge_with_dense_ones_and_grow_dense() {
        let probe = Probe::ALL;
        let (mut sparse, mut dense_one) = (probe.empty(), Partial::Counts(vec![0; 1 << DIGIT]));
        for v in [1.0, 2.0, 2.0, -3.5] {
            probe.add(&mut sparse, v);
            probe.add(&mut dense_one, v);
        }
        assert!(matches!(sparse, Partial::Sparse(ref p) if p.len() == 3));
        let mut a = sparse.clone();
        a.merge(&dense_one).unwrap();
        let mut b = dense_one.clone();
        b.merge(&sparse).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.digit_counts().map(|(_, c)| c).sum::<u64>(), 8);
        let mut wide = probe.empty();
        (0..=SPARSE_AT_MOST).for_each(|i| probe.add(&mut wide, from_order_key((i as u64) << 48)));
        assert!(
            matches!(wide, Partial::Counts(_)),
            "past SPARSE_AT_MOST digits a partial is dense"
        );
        assert!(sparse.merge(&Partial::Values(vec![1.0])).is_err());
    }
}
