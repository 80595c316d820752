//! A PostgreSQL schema of its own for one test, dropped when the test ends.
//!
//! The server is `KOBO_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/test`,
//! the loopback server with trust auth these machines run). Tests that need it fail with
//! how to get one when it is not there; they are never skipped.

use sqlx::Connection;

pub struct PgSchema {
    /// The server's address without a schema.
    server: String,
    pub name: String,
}

impl PgSchema {
    pub async fn new() -> PgSchema {
        let server = std::env::var("KOBO_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "kobo_test_{}_{}",
            std::process::id(),
            runner::run::RunId::generate().0
        );
        let mut conn = sqlx::PgConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {server} ({e}); start it (`apt-get install postgresql`, \
                 trust auth on 127.0.0.1, database `test`) or set KOBO_TEST_POSTGRES to a server you may use"
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        PgSchema { server, name }
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
        // Drop runs outside any runtime the test may be in: a thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&server).await {
                        let drop = format!("DROP SCHEMA IF EXISTS {name} CASCADE");
                        let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                            .execute(&mut conn)
                            .await;
                    }
                })
        })
        .join();
    }
}
