//! `sqlx::migrate!` embeds the migration files it finds at compile time but cannot tell cargo to
//! look again when one is added: this does.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
