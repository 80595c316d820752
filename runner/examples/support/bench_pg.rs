//! A PostgreSQL schema of a bench run's own, shared by the benches that can put kobo's
//! records in PostgreSQL (`runner/examples/queue_bench.rs`, `examples/dashboard_bench.rs`).
//! Not an example of its own: both include it with `#[path]`.

use sqlx::Connection;

/// A PostgreSQL schema of this bench run's own, dropped when it goes out of scope (also
/// while unwinding from a panic). Other sessions share the server: never reuse a name.
pub struct PgSchema {
    server: String,
    name: String,
}

impl PgSchema {
    pub async fn create(server: &str) -> PgSchema {
        let name = format!(
            "kobo_bench_{}_{}",
            std::process::id(),
            runner::RunId::generate().0.to_ascii_lowercase()
        );
        let mut conn = sqlx::PgConnection::connect(server)
            .await
            .unwrap_or_else(|e| panic!("BENCH_POSTGRES: cannot connect to {server}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        PgSchema {
            server: server.to_string(),
            name,
        }
    }

    pub fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.server, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run inside the bench's runtime: a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&server).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE"
                    )))
                    .execute(&mut conn)
                    .await?;
                    conn.close().await
                })
        })
        .join();
        match dropped {
            Ok(Ok(())) => eprintln!("dropped PostgreSQL schema {}", self.name),
            _ => eprintln!(
                "could not drop PostgreSQL schema {}: drop it by hand (DROP SCHEMA {} CASCADE)",
                self.name, self.name
            ),
        }
    }
}
