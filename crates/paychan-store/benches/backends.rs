//! Commit path of the PostgreSQL and MariaDB backends against other clients: being written.

fn main() {}
