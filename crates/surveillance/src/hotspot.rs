//! Hotspots for the map: Getis-Ord Gi* of each village's standardised excess
//! `(observed − expected) / √expected` over its neighbourhood (itself and its nearest villages,
//! binary weights), one-sided normal p-values, Benjamini–Hochberg false-discovery-rate control.
use crate::dist::normal_upper;

/// Gi* z-score per village.
pub fn getis_ord(values: &[f64], neighbours: &[Vec<usize>]) -> Vec<f64> {
    let n = values.len() as f64;
    if values.len() < 2 {
        return vec![0.0; values.len()];
    }
    let mean = values.iter().sum::<f64>() / n;
    let s = (values.iter().map(|x| x * x).sum::<f64>() / n - mean * mean)
        .max(0.0)
        .sqrt();
    neighbours
        .iter()
        .map(|nb| {
            let w = nb.len() as f64;
            let sum: f64 = nb.iter().map(|&j| values[j]).sum();
            let den = s * ((n * w - w * w) / (n - 1.0)).max(0.0).sqrt();
            if den > 0.0 {
                (sum - mean * w) / den
            } else {
                0.0
            }
        })
        .collect()
}

/// Which hypotheses are rejected at false-discovery rate `q` (Benjamini–Hochberg step-up).
pub fn benjamini_hochberg(p: &[f64], q: f64) -> Vec<bool> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut cut = 0;
    for (rank, &i) in order.iter().enumerate() {
        if p[i] <= q * (rank + 1) as f64 / m as f64 {
            cut = rank + 1;
        }
    }
    let mut out = vec![false; m];
    for &i in order.iter().take(cut) {
        out[i] = true;
    }
    out
}

/// Villages that are hot spots: Gi* > 0 and significant after FDR control at `q`.
pub fn hotspots(
    observed: &[f64],
    expected: &[f64],
    neighbours: &[Vec<usize>],
    q: f64,
) -> Vec<(f64, bool)> {
    let values: Vec<f64> = observed
        .iter()
        .zip(expected)
        .map(|(o, e)| (o - e) / e.max(0.25).sqrt())
        .collect();
    let z = getis_ord(&values, neighbours);
    let p: Vec<f64> = z.iter().map(|&z| normal_upper(z)).collect();
    let hot = benjamini_hochberg(&p, q);
    z.into_iter()
        .zip(hot)
        .map(|(z, h)| (z, h && z > 0.0))
        .collect()
}
