//! Percentiles over a known set of values: nearest rank on the sorted values, the definition a person can
//! check by hand (p50 of 1..=100 is 50, p99 is 99, max is 100). No interpolation, no histogram buckets.

use serde::{Deserialize, Serialize};

/// Count, percentiles and extremes of one stage, in its unit (milliseconds for latencies).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub min: f64,
    pub mean: f64,
}

/// The value at percentile `p` (0..=100) of `sorted` (ascending, non-empty) by nearest rank: the smallest
/// value with at least `p`% of the values at or below it.
pub fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p.clamp(0.0, 100.0) / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// The summary of `values`; `None` when there are none. Non-finite values are left out.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Summary {
        count: v.len() as u64,
        p50: nearest_rank(&v, 50.0),
        p90: nearest_rank(&v, 90.0),
        p99: nearest_rank(&v, 99.0),
        max: v[v.len() - 1],
        min: v[0],
        mean: v.iter().sum::<f64>() / v.len() as f64,
    })
}

/// The median of `values` (nearest rank), for ratios of repeated runs.
pub fn median(values: &[f64]) -> Option<f64> {
    summarize(values).map(|s| s.p50)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = summarize(&v).unwrap();
        assert_eq!(
            (s.count, s.p50, s.p90, s.p99, s.max, s.min),
            (100, 50.0, 90.0, 99.0, 100.0, 1.0)
        );
        assert!((s.mean - 50.5).abs() < 1e-9);
    }

    #[test]
    fn small_sets_and_edge_cases() {
        assert_eq!(summarize(&[]), None);
        let one = summarize(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p99, one.max), (7.0, 7.0, 7.0));
        // four values: p50 is the 2nd, p90 and p99 the 4th
        let s = summarize(&[40.0, 10.0, 30.0, 20.0]).unwrap();
        assert_eq!((s.p50, s.p90, s.p99), (20.0, 40.0, 40.0));
        let s = summarize(&[1.0, f64::NAN, 3.0, f64::INFINITY]).unwrap();
        assert_eq!(s.count, 2, "non-finite values are left out");
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
