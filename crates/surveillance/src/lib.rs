//! Early-warning statistics for Fengqiao (issue 5), pure and deterministic: no I/O, no clock.
//!
//! - [`days`]: what a day is for dispute counts (rest after 调休, holidays, pre-festival weeks).
//! - [`glm`]: the robust log-linear count baseline with negative-binomial dispersion.
//! - [`surge`]: surge detectors (EARS C1–C3, the regression scan in production, NB CUSUM).
//! - [`scan`]: the prospective space-time cluster scan over neighbouring villages.
//! - [`hotspot`]: Getis-Ord Gi* with Benjamini–Hochberg control for the map.
//! - [`sim`] and [`eval`]: the simulated county and the scoring `fengqiao bench warnings` runs;
//!   [`oracle`]: detectors that read the simulator's true means, bounding what any could find.
pub mod daily;
pub mod days;
pub mod dist;
pub mod eval;
pub mod glm;
pub mod hotspot;
pub mod oracle;
pub mod scan;
pub mod sim;
pub mod surge;
