//! The jurisdiction tree: province → city → county → town/street → village/community → grid.
//!
//! Owns: code formats per level and the materialised path used for subtree scope
//! (`/990000/990100/990102/…/`). A node is inside a scope when its path starts with the scope's path.
use crate::DomainError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Province,
    City,
    County,
    Town,
    Village,
    Grid,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Town => "town",
            Level::Village => "village",
            Level::Grid => "grid",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "province" => Level::Province,
            "city" => Level::City,
            "county" => Level::County,
            "town" => Level::Town,
            "village" => Level::Village,
            "grid" => Level::Grid,
            _ => return None,
        })
    }

    /// Checks the code format of the level: 6 digits (GB/T 2260) down to the county,
    /// 9 for towns, 12 for villages (statistical division codes), 15 for grids.
    pub fn validate_code(self, code: &str) -> Result<(), DomainError> {
        let len = match self {
            Level::Province | Level::City | Level::County => 6,
            Level::Town => 9,
            Level::Village => 12,
            Level::Grid => 15,
        };
        if code.len() == len && code.chars().all(|c| c.is_ascii_digit()) {
            Ok(())
        } else {
            Err(DomainError::InvalidJurisdictionCode(code.to_string()))
        }
    }

    /// The level a child of this level must have.
    pub fn child(self) -> Option<Level> {
        match self {
            Level::Province => Some(Level::City),
            Level::City => Some(Level::County),
            Level::County => Some(Level::Town),
            Level::Town => Some(Level::Village),
            Level::Village => Some(Level::Grid),
            Level::Grid => None,
        }
    }
}

/// A node of the jurisdiction tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jurisdiction {
    pub code: String,
    pub name: String,
    pub level: Level,
    pub parent_code: Option<String>,
    /// Materialised path of codes from the root, `/a/b/c/`.
    pub path: String,
    /// Centroid as (longitude, latitude).
    pub centroid: Option<[f64; 2]>,
    /// GeoJSON geometry of the boundary.
    #[schema(value_type = Option<Object>)]
    pub boundary: Option<serde_json::Value>,
}

impl Jurisdiction {
    /// Builds a node under `parent` (None for a root), checking level order and code format.
    pub fn new(
        code: &str,
        name: &str,
        level: Level,
        parent: Option<&Jurisdiction>,
    ) -> Result<Jurisdiction, DomainError> {
        level.validate_code(code)?;
        if name.trim().is_empty() {
            return Err(DomainError::validation("name", "empty"));
        }
        let path = match parent {
            Some(p) => {
                if p.level.child() != Some(level) {
                    return Err(DomainError::validation(
                        "level",
                        format!(
                            "a {} cannot be under a {}",
                            level.as_str(),
                            p.level.as_str()
                        ),
                    ));
                }
                format!("{}{}/", p.path, code)
            }
            None => format!("/{code}/"),
        };
        Ok(Jurisdiction {
            code: code.to_string(),
            name: name.trim().to_string(),
            level,
            parent_code: parent.map(|p| p.code.clone()),
            path,
            centroid: None,
            boundary: None,
        })
    }
}

/// The path down to the village a path lies in (`/…/<12-digit village>/`); a path above village
/// level is returned whole.
pub fn village_path(path: &str) -> &str {
    let mut end = 0;
    for seg in path.split_inclusive('/') {
        end += seg.len();
        if seg.trim_end_matches('/').len() == 12 {
            return &path[..end];
        }
    }
    path
}

/// True when `path` lies in the subtree rooted at `scope_path` (the root itself included).
pub fn path_within(path: &str, scope_path: &str) -> bool {
    path.starts_with(scope_path)
}
