//! Everything that can go wrong in the store, with the operation it went wrong in.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open SQLite database `{path}`: {source}")]
    OpenSqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create directory `{path}` for the SQLite database: {source}")]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is in use by another process (a running `cartback serve` or import): stop it first",
        path.display()
    )]
    InUse { path: PathBuf },
    #[error("there is no SQLite database at `{}`", path.display())]
    MissingDatabase { path: PathBuf },
    #[error("page size {page_size} is not a power of two from 512 to 65536 bytes")]
    InvalidPageSize { page_size: u32 },
    #[error("the SQLite database stayed in journal mode `{mode}` instead of WAL")]
    NotWal { mode: String },
    #[error("SQLite failed while {action}: {source}")]
    Sqlite {
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// `target` is the URL with any password replaced by `***`.
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    ConnectPostgres {
        target: String,
        #[source]
        source: postgres::Error,
    },
    #[error("PostgreSQL failed while {action}: {source}")]
    Postgres {
        action: &'static str,
        #[source]
        source: postgres::Error,
    },
    #[error(
        "invalid PostgreSQL schema name `{0}`: use 1 to 63 lower-case ASCII letters, digits \
         and underscores, starting with a letter or underscore"
    )]
    InvalidSchemaName(String),
    #[error(
        "the database schema is at version {found}, newer than the newest this cartback knows \
         ({supported}); run a newer cartback or use another database"
    )]
    SchemaTooNew { found: u32, supported: u32 },
    #[error(
        "migration {version} is recorded in the database as `{recorded}` but this cartback \
         calls it `{expected}`: the database was migrated by a different build"
    )]
    MigrationMismatch {
        version: u32,
        recorded: String,
        expected: String,
    },
    #[error("migration {version} `{name}` failed: {source}")]
    MigrationFailed {
        version: u32,
        name: &'static str,
        #[source]
        source: Box<StoreError>,
    },
    #[error("cannot encode {what} `{key}` as JSON: {source}")]
    Encode {
        what: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{what} `{key}` has a NUL character (U+0000) in `{field}`, which the store refuses \
         (PostgreSQL cannot hold it)"
    )]
    Unstorable {
        what: &'static str,
        key: String,
        field: String,
    },
    #[error("corrupt row in table `{table}` (key {key}): {reason}")]
    CorruptRow {
        table: &'static str,
        key: String,
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn sqlite(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Sqlite { action, source }
    }

    /// Whether SQLite refused because another connection held a lock.
    pub(crate) fn is_sqlite_busy(&self) -> bool {
        let source = match self {
            StoreError::Sqlite { source, .. } | StoreError::OpenSqlite { source, .. } => source,
            StoreError::MigrationFailed { source, .. } => return source.is_sqlite_busy(),
            _ => return false,
        };
        matches!(
            source.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }

    pub(crate) fn postgres(action: &'static str) -> impl FnOnce(postgres::Error) -> StoreError {
        move |source| StoreError::Postgres { action, source }
    }
}

/// Converts a row count from the database into `u64` (counts are never negative; a negative
/// one means a corrupt answer).
pub(crate) fn count_from_i64(table: &'static str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::CorruptRow {
        table,
        key: "count".into(),
        reason: format!("negative count {value}"),
    })
}

/// A connection URL with the password (if any) replaced by `***`, for error messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/shop?sslmode=disable"),
            "postgres://app:***@db.example:5432/shop?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("postgresql://host/db"), "postgresql://host/db");
        assert_eq!(redact_url("host=localhost user=x"), "host=localhost user=x");
    }
}
