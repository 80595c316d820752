//! `ClientLang`: the language a client reads, set per client by the admin (Japanese until
//! set). Her deliveries are written in it: the outcome columns `write … with_results: true`
//! adds, their values, and the sheet of rows to check; so are the e-mails she gets.
//!
//! The words are chosen when the run writes its outputs (a queued run knows its client), so
//! the file the reviewer approves is the very file the client receives. A run started by hand
//! (`kobo run`, a trainee's sample) has no client language and writes `result` / `error`.

use crate::run::RowStatus;
use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyPool, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientLang {
    En,
    #[default]
    Ja,
    Uk,
}

/// The words of the outcome columns and the sheet of rows to check, in one language.
#[derive(Debug, Clone, Copy)]
pub struct ResultWords {
    pub result: &'static str,
    pub error: &'static str,
    pub ok: &'static str,
    pub failed: &'static str,
    pub skipped: &'static str,
    pub in_doubt: &'static str,
    pub pending: &'static str,
    /// The name of the sheet listing the rows that did not end ok.
    pub check_sheet: &'static str,
    /// Its first column: the row's number in the client's own sheet.
    pub row: &'static str,
}

impl ResultWords {
    /// What `with_results` writes when no client language is known (a run started by hand).
    pub const PLAIN: ResultWords = ResultWords {
        result: "result",
        error: "error",
        ok: "ok",
        failed: "failed",
        skipped: "skipped",
        in_doubt: "in_doubt",
        pending: "pending",
        check_sheet: "rows to check",
        row: "row",
    };

    pub fn status(&self, s: RowStatus) -> &'static str {
        match s {
            RowStatus::Ok => self.ok,
            RowStatus::Failed => self.failed,
            RowStatus::Skipped => self.skipped,
            RowStatus::InDoubt => self.in_doubt,
            RowStatus::Pending => self.pending,
        }
    }
}

impl ClientLang {
    pub const ALL: [ClientLang; 3] = [ClientLang::Ja, ClientLang::En, ClientLang::Uk];

    pub fn code(self) -> &'static str {
        match self {
            ClientLang::En => "en",
            ClientLang::Ja => "ja",
            ClientLang::Uk => "uk",
        }
    }

    pub fn from_code(code: &str) -> Option<ClientLang> {
        ClientLang::ALL.into_iter().find(|l| l.code() == code)
    }

    pub fn words(self) -> ResultWords {
        match self {
            ClientLang::En => ResultWords {
                result: "Result",
                error: "Problem",
                ok: "Done",
                failed: "Failed",
                skipped: "Skipped",
                in_doubt: "Please check",
                pending: "Not processed",
                check_sheet: "Rows to check",
                row: "Row in your file",
            },
            ClientLang::Ja => ResultWords {
                result: "結果",
                error: "エラー",
                ok: "正常",
                failed: "失敗",
                skipped: "スキップ",
                in_doubt: "要確認",
                pending: "未処理",
                check_sheet: "確認が必要な行",
                row: "元のファイルの行",
            },
            ClientLang::Uk => ResultWords {
                result: "Результат",
                error: "Проблема",
                ok: "Готово",
                failed: "Не вдалося",
                skipped: "Пропущено",
                in_doubt: "Перевірте",
                pending: "Не оброблено",
                check_sheet: "Рядки для перевірки",
                row: "Рядок у вашому файлі",
            },
        }
    }
}

/// The client's language: the admin's choice, else Japanese.
pub async fn get(pool: &AnyPool, client: &str) -> Result<ClientLang, sqlx::Error> {
    let row = sqlx::query("SELECT lang FROM client_settings WHERE client = $1")
        .bind(client)
        .fetch_optional(pool)
        .await?;
    Ok(row
        .and_then(|r| ClientLang::from_code(&r.get::<String, _>("lang")))
        .unwrap_or_default())
}

/// Every client whose language the admin set, by name.
pub async fn all(pool: &AnyPool) -> Result<Vec<(String, ClientLang)>, sqlx::Error> {
    let rows = sqlx::query("SELECT client, lang FROM client_settings ORDER BY client")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let lang = ClientLang::from_code(&r.get::<String, _>("lang"))?;
            Some((r.get("client"), lang))
        })
        .collect())
}

/// Set a client's language, with its audit entry, in one transaction.
pub async fn set(
    pool: &AnyPool,
    actor: &str,
    client: &str,
    lang: ClientLang,
) -> Result<(), sqlx::Error> {
    let before = get(pool, client).await?;
    let mut tx = crate::record::begin_write(pool).await?;
    sqlx::query(
        "INSERT INTO client_settings (client, lang, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (client) DO UPDATE SET lang = excluded.lang, updated_at = excluded.updated_at",
    )
    .bind(client)
    .bind(lang.code())
    .bind(Utc::now().to_rfc3339())
    .execute(&mut *tx)
    .await?;
    let detail = format!("{} → {}", before.code(), lang.code());
    crate::audit::append(&mut *tx, actor, "client.lang", client, Some(&detail)).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_word_in_every_language() {
        use RowStatus::*;
        for lang in ClientLang::ALL {
            let w = lang.words();
            let words: Vec<&str> = [Ok, Failed, Skipped, InDoubt, Pending]
                .map(|s| w.status(s))
                .to_vec();
            let mut unique = words.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), words.len(), "{lang:?}: {words:?}");
            assert_eq!(ClientLang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(ClientLang::Ja.words().result, "結果");
    }
}
