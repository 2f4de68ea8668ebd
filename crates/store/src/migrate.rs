//! The migration runner's backend-independent part: what a migration is and which ones a
//! database still needs.
//!
//! Each backend keeps an ordered list of [`Migration`]s (same versions and names in both,
//! different SQL) and a `schema_migrations` table (`version`, `name`, `applied_at`) recording
//! what was applied. On open, the backend repeatedly: starts a transaction holding the
//! database's write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory lock), reads
//! `schema_migrations`, asks [`pending`] what is left, applies the first pending migration and
//! records it, and commits — so every migration is atomic and two processes opening the same
//! database at once never apply one twice.
//!
//! Policy: migrations are append-only. A released migration is never edited or renumbered;
//! changes come as a new migration with the next version. A database that has a version this
//! build does not know is refused ([`StoreError::SchemaTooNew`]) rather than used.
//!
//! No crate was used: `refinery` 0.10 supports rusqlite only up to 0.40 and
//! `rusqlite_migration` 2.6 is SQLite-only and also on rusqlite 0.40, while this workspace
//! uses rusqlite 0.43.

use crate::StoreError;

/// One schema change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    /// Position in the list, starting at 1, without gaps.
    pub version: u32,
    /// Short `snake_case` description, recorded in `schema_migrations`.
    pub name: &'static str,
    /// Statements to run (several, separated by `;`).
    pub sql: &'static str,
}

/// A row of `schema_migrations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedMigration {
    pub version: u32,
    pub name: String,
}

/// The schema version this build creates and understands.
pub const LATEST_VERSION: u32 = 8;

/// The migrations of `known` that a database with `applied` (sorted by version) still needs,
/// in order. Fails when the database is newer than `known`, or when its history differs from
/// `known` (another build's migrations).
pub fn pending<'a>(
    known: &'a [Migration],
    applied: &[AppliedMigration],
) -> Result<&'a [Migration], StoreError> {
    let supported = known.last().map_or(0, |m| m.version);
    if let Some(newest) = applied.iter().map(|a| a.version).max()
        && newest > supported
    {
        return Err(StoreError::SchemaTooNew {
            found: newest,
            supported,
        });
    }
    for (position, recorded) in applied.iter().enumerate() {
        let expected = known
            .get(position)
            .filter(|m| m.version == recorded.version);
        match expected {
            Some(m) if m.name == recorded.name => {}
            Some(m) => {
                return Err(StoreError::MigrationMismatch {
                    version: recorded.version,
                    recorded: recorded.name.clone(),
                    expected: m.name.to_string(),
                });
            }
            None => {
                // A gap or reordering in the recorded history: name what we would expect there.
                let expected = known
                    .iter()
                    .find(|m| m.version == recorded.version)
                    .map_or_else(|| "<unknown>".to_string(), |m| m.name.to_string());
                return Err(StoreError::MigrationMismatch {
                    version: recorded.version,
                    recorded: recorded.name.clone(),
                    expected,
                });
            }
        }
    }
    Ok(&known[applied.len()..])
}

/// Checks that a migration list is numbered 1, 2, 3, … and ends at [`LATEST_VERSION`].
#[cfg(test)]
pub(crate) fn assert_well_formed(known: &[Migration]) {
    for (index, migration) in known.iter().enumerate() {
        assert_eq!(migration.version as usize, index + 1, "{migration:?}");
        assert!(!migration.name.is_empty() && !migration.sql.trim().is_empty());
    }
    assert_eq!(known.last().map(|m| m.version), Some(LATEST_VERSION));
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [Migration; 3] = [
        Migration {
            version: 1,
            name: "events",
            sql: "CREATE TABLE a (x INTEGER)",
        },
        Migration {
            version: 2,
            name: "carts",
            sql: "CREATE TABLE b (x INTEGER)",
        },
        Migration {
            version: 3,
            name: "decisions",
            sql: "CREATE TABLE c (x INTEGER)",
        },
    ];

    fn applied(list: &[(u32, &str)]) -> Vec<AppliedMigration> {
        list.iter()
            .map(|&(version, name)| AppliedMigration {
                version,
                name: name.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_fresh_database_needs_everything_and_a_current_one_nothing() {
        assert_eq!(pending(&KNOWN, &[]).unwrap(), &KNOWN[..]);
        let partly = applied(&[(1, "events")]);
        assert_eq!(pending(&KNOWN, &partly).unwrap(), &KNOWN[1..]);
        let all = applied(&[(1, "events"), (2, "carts"), (3, "decisions")]);
        assert!(pending(&KNOWN, &all).unwrap().is_empty());
    }

    #[test]
    fn a_newer_database_is_refused() {
        let future = applied(&[(1, "events"), (2, "carts"), (3, "decisions"), (4, "x")]);
        match pending(&KNOWN, &future) {
            Err(StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (4, 3));
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_different_history_is_refused() {
        let renamed = applied(&[(1, "events"), (2, "baskets")]);
        match pending(&KNOWN, &renamed) {
            Err(StoreError::MigrationMismatch {
                version,
                recorded,
                expected,
            }) => {
                assert_eq!(
                    (version, recorded.as_str(), expected.as_str()),
                    (2, "baskets", "carts")
                );
            }
            other => panic!("expected MigrationMismatch, got {other:?}"),
        }
        let gap = applied(&[(1, "events"), (3, "decisions")]);
        assert!(matches!(
            pending(&KNOWN, &gap),
            Err(StoreError::MigrationMismatch { version: 3, .. })
        ));
    }

    #[test]
    fn both_backends_have_the_same_well_formed_history() {
        let sqlite = crate::sqlite::MIGRATIONS;
        let postgres = crate::postgres::MIGRATIONS;
        assert_well_formed(sqlite);
        assert_well_formed(postgres);
        let names =
            |list: &[Migration]| list.iter().map(|m| (m.version, m.name)).collect::<Vec<_>>();
        assert_eq!(names(sqlite), names(postgres));
    }
}
