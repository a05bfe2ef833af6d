//! Numbered schema migrations (`migrations/NNNN_*.sql`), applied in order
//! when the database is opened; SQLite's `user_version` records how far a
//! database got. Never edit a released migration: add the next number.

use rusqlite_migration::{Migrations, M};

/// Every migration, oldest first.
pub fn all() -> Migrations<'static> {
    Migrations::from_slice(MIGRATIONS)
}

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("migrations/0001_records.sql")),
    M::up(include_str!("migrations/0002_users.sql")),
    M::up(include_str!("migrations/0003_security_events.sql")),
    M::up(include_str!("migrations/0004_records_by_patient.sql")),
];

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::all().validate().unwrap();
    }
}
