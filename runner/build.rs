//! Rebuild when a migration is added: `sqlx::migrate!` embeds the migration folders at
//! compile time, and a new file alone would not make cargo compile `runner` again.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=migrations-postgres");
}
