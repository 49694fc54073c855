//! Fengqiao's domain model: plain types and pure functions, no I/O.
//!
//! Layout:
//! - [`validate`]: personal identifiers (ID-card numbers, mobile numbers) parsed once, masked for display.
//! - [`jurisdiction`]: the jurisdiction tree (province → … → grid) and its materialised paths.
//! - [`unit`]: units that handle cases and their kinds.
//! - [`access`]: roles, operations, the role × operation matrix and jurisdiction scope.
//! - [`calendar`]: the working-day calendar with China's holidays and make-up workdays.
//! - [`deadline`]: deadline rules and traffic lights.
//! - [`case`]: the case aggregate's state and its vocabulary (channels, dispute types, …).
//! - [`workflow`]: commands → events (`decide`) and events → state (`apply`).
//! - [`risk`]: a case's escalation-risk grade (red/yellow/green) and its reasons, derived on read.
//! - [`warning`]: area and type warnings and their life (open → acknowledged → handled → closed).
//! - [`import`]: records from other systems' exports through a channel's field mapping.
//! - [`outbound`]: notifications leaving the system (webhook, e-mail, SMS): settings, fan-out, retries.
//! - [`law`]: law articles read from imported Markdown, and the curated key provisions per
//!   dispute type.
//! - [`stats`]: what a case contributes to the statistics' roll-ups; [`indicators`]: health-check
//!   indicators and the Fengqiao index.
//!
//! This crate must not depend on any I/O crate (database, HTTP, file system);
//! time is always passed in, never read from the clock.
pub mod access;
pub mod audit;
pub mod calendar;
pub mod case;
pub mod deadline;
pub mod error;
pub mod expert;
pub mod export;
pub mod import;
pub mod indicators;
pub mod jurisdiction;
pub mod law;
pub mod outbound;
pub mod risk;
pub mod room;
pub mod security;
pub mod stats;
pub mod time;
pub mod unit;
pub mod validate;
pub mod warning;
pub mod workflow;

pub use error::DomainError;
