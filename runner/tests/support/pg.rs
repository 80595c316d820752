//! A PostgreSQL schema of its own for one test or bench run, dropped when it goes out of
//! scope (also while unwinding from a panic). Other sessions share the server: a name is
//! never reused.
//!
//! Tests use [`PgSchema::new`] on `KOBO_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`, the loopback server with trust auth these
//! machines run); they fail with how to get one when it is not there, never skip. The
//! benches (`runner/examples/queue_bench.rs`, `examples/dashboard_bench.rs`) use
//! [`PgSchema::create`] on `BENCH_POSTGRES`. All include this file with `#[path]`.
#![allow(dead_code)]

use sqlx::Connection;

pub struct PgSchema {
    /// The server's address without a schema.
    server: String,
    pub name: String,
}

impl PgSchema {
    /// A schema for a test, on `KOBO_TEST_POSTGRES` or the loopback server.
    pub async fn new() -> PgSchema {
        let server = std::env::var("KOBO_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        PgSchema::create_named(&server, "kobo_test").await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {server} ({e}); start it (`apt-get install postgresql`, \
                 trust auth on 127.0.0.1, database `test`) or set KOBO_TEST_POSTGRES to a server you may use"
            )
        })
    }

    /// A schema for a bench run on `server` (`BENCH_POSTGRES`).
    pub async fn create(server: &str) -> PgSchema {
        PgSchema::create_named(server, "kobo_bench")
            .await
            .unwrap_or_else(|e| panic!("BENCH_POSTGRES: cannot connect to {server}: {e}"))
    }

    /// `<prefix>_<pid>_<run id>`, created on `server`.
    async fn create_named(server: &str, prefix: &str) -> Result<PgSchema, sqlx::Error> {
        let name = format!(
            "{prefix}_{}_{}",
            std::process::id(),
            runner::RunId::generate().0
        );
        let mut conn = sqlx::PgConnection::connect(server).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(PgSchema {
            server: server.to_string(),
            name,
        })
    }

    /// The `--records` URL that puts kobo's tables in this schema.
    pub fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.server, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside a runtime: a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&server).await?;
                    let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                    sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "could not drop PostgreSQL schema {0}: drop it by hand (DROP SCHEMA {0} CASCADE)",
                self.name
            );
        }
    }
}
