//! Compatibility levels with Confluent semantics, decided by `apache-avro`'s schema resolution rules.

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "NONE" => Self::None,
            "BACKWARD" => Self::Backward,
            "BACKWARD_TRANSITIVE" => Self::BackwardTransitive,
            "FORWARD" => Self::Forward,
            "FORWARD_TRANSITIVE" => Self::ForwardTransitive,
            "FULL" => Self::Full,
            "FULL_TRANSITIVE" => Self::FullTransitive,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the check runs against every earlier version or only the latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }
}

/// Checks `new` against `existing` (oldest first); returns the reasons it is incompatible.
pub fn check(level: Compatibility, new: &Schema, existing: &[Schema]) -> Vec<String> {
    let against: &[Schema] = match (level, existing.last()) {
        (Compatibility::None, _) | (_, None) => return Vec::new(),
        (l, Some(_)) if l.transitive() => existing,
        (_, Some(_)) => &existing[existing.len() - 1..],
    };
    let backward = matches!(
        level,
        Compatibility::Backward
            | Compatibility::BackwardTransitive
            | Compatibility::Full
            | Compatibility::FullTransitive
    );
    let forward = matches!(
        level,
        Compatibility::Forward
            | Compatibility::ForwardTransitive
            | Compatibility::Full
            | Compatibility::FullTransitive
    );
    let mut reasons = Vec::new();
    for old in against {
        // BACKWARD: consumers on the new schema can read data written with the old one.
        if backward {
            if let Err(e) = SchemaCompatibility::can_read(old, new) {
                reasons.push(format!(
                    "new schema cannot read data written with an earlier schema: {e}"
                ));
            }
        }
        if forward {
            if let Err(e) = SchemaCompatibility::can_read(new, old) {
                reasons.push(format!(
                    "an earlier schema cannot read data written with the new schema: {e}"
                ));
            }
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"R","fields":[{fields}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn adding_a_field_with_default_is_backward_compatible() {
        let v1 = s(r#"{"name":"a","type":"string"}"#);
        let v2 = s(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        assert!(check(Compatibility::Backward, &v2, std::slice::from_ref(&v1)).is_empty());
        assert!(check(Compatibility::Full, &v2, &[v1]).is_empty());
    }

    #[test]
    fn adding_a_required_field_breaks_backward() {
        let v1 = s(r#"{"name":"a","type":"string"}"#);
        let v2 = s(r#"{"name":"a","type":"string"},{"name":"b","type":"int"}"#);
        assert_eq!(
            check(Compatibility::Backward, &v2, std::slice::from_ref(&v1)).len(),
            1
        );
        assert!(check(Compatibility::Forward, &v2, std::slice::from_ref(&v1)).is_empty());
        assert!(check(Compatibility::None, &v2, &[v1]).is_empty());
    }

    #[test]
    fn transitive_checks_every_version() {
        let v1 = s(r#"{"name":"a","type":"string"}"#);
        let v2 = s(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        let v3 = s(r#"{"name":"b","type":"int","default":0}"#);
        // v3 drops `a`: fine for a reader (BACKWARD), against v1 too since `a` is simply ignored.
        assert!(check(
            Compatibility::BackwardTransitive,
            &v3,
            &[v1.clone(), v2.clone()]
        )
        .is_empty());
        // ...but old readers that need `a` cannot read v3 data.
        assert!(!check(Compatibility::ForwardTransitive, &v3, &[v1, v2]).is_empty());
    }
}
