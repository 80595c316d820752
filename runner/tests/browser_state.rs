//! Browser steps for portal patterns beyond a plain form, in a real headless Chromium against
//! the practice portal's `/widgets` page: a menu that opens on hover, a field inside a small
//! scrolling box under a sticky header, element states as a person sees them, text that goes
//! away, and fields whose page script clears or changes what kobo puts in them.

use portal::PortalHandle;
use runner::browser::{Browser, BrowserConfig, BrowserError, FillMode, Locator, State, WaitTarget};
use runner::record::Records;
use runner::run::RunStatus;
use runner::{RunOptions, Workflow, execute};
use std::path::Path;
use std::time::Duration;

const SHORT: Option<Duration> = Some(Duration::from_secs(1));

/// A portal and a browser signed in to it, on `/widgets`.
async fn widgets() -> (PortalHandle, Browser) {
    let portal = portal::start().await.unwrap();
    let browser = Browser::launch(&BrowserConfig::default())
        .await
        .unwrap_or_else(|e| panic!("could not launch the browser: {e}"));
    browser.goto(&portal.page("/login")).await.unwrap();
    for (label, text) in [("ユーザーID", "demo"), ("パスワード", "kobo-demo-pass")] {
        browser
            .fill(&Locator::label(label), text, FillMode::Type, None)
            .await
            .unwrap();
    }
    browser
        .click(&Locator::text("ログイン"), None)
        .await
        .unwrap();
    browser
        .wait_for(&WaitTarget::Url("/menu".into()), None)
        .await
        .unwrap();
    browser.goto(&portal.page("/widgets")).await.unwrap();
    (portal, browser)
}

async fn result(browser: &Browser) -> String {
    browser.text(&Locator::css("#result"), None).await.unwrap()
}

#[tokio::test]
async fn hover_opens_a_menu_and_fields_in_a_scrolling_box_are_reached() {
    let (_portal, browser) = widgets().await;

    // The sub-menu shows only under the mouse: clicking it before is refused as hidden.
    let item = Locator::text("経費精算");
    let err = browser.click(&item, SHORT).await.unwrap_err();
    assert!(
        matches!(err, BrowserError::NotFound { .. }) && err.to_string().contains("stayed hidden"),
        "{err}"
    );
    browser.hover(&Locator::text("申請"), None).await.unwrap();
    browser
        .expect_state(&item, State::Visible, None)
        .await
        .unwrap();
    browser.click(&item, None).await.unwrap();
    assert_eq!(result(&browser).await, "経費精算を開きました");

    // The box starts at its top: the field and the button are scrolled out of it. Then the
    // box is at its bottom, and the button at its top is under the box's sticky heading.
    browser
        .fill(&Locator::label("確認コード"), "A-17", FillMode::Type, None)
        .await
        .unwrap();
    browser
        .click(&Locator::text("同意して進む"), None)
        .await
        .unwrap();
    assert_eq!(result(&browser).await, "同意しました: A-17");
    browser
        .click(&Locator::text("規約を印刷"), None)
        .await
        .unwrap();
    assert_eq!(result(&browser).await, "印刷しました");

    // Far below the first screen: visible (a person scrolls to it), and scrolled to.
    let bottom = Locator::css("#bottom");
    browser.scroll_into_view(&bottom, None).await.unwrap();
    assert!(
        browser
            .has_state(&bottom, State::Visible, None)
            .await
            .unwrap()
    );
    browser.close().await;
}

#[tokio::test]
async fn element_states_are_what_a_person_sees() {
    let (_portal, browser) = widgets().await;
    let css = Locator::css;

    // The spinner goes away after 0.8 s: `wait_for … state: hidden`.
    browser
        .expect_state(&css("#loading"), State::Hidden, None)
        .await
        .unwrap();
    for (id, visible) in [
        ("#shown", true),
        ("#bottom", true),
        ("#ghost", false),
        ("#offscreen", false),
        ("#vh", false),
        ("#zero", false),
        ("#gone", false),
        ("#covered", false),
        ("#nothing-like-this", false),
    ] {
        let l = css(id);
        assert_eq!(
            browser.has_state(&l, State::Visible, None).await.unwrap(),
            visible,
            "{id} visible"
        );
        assert_eq!(
            browser.has_state(&l, State::Hidden, None).await.unwrap(),
            !visible,
            "{id} hidden"
        );
    }
    // `wait_for` without a state keeps its old meaning: displayed (an element with opacity 0
    // is displayed).
    browser
        .wait_for(&WaitTarget::Element(css("#ghost")), None)
        .await
        .unwrap();

    // Why it is not visible, in the words of the message.
    let why = |id: &'static str| {
        let browser = &browser;
        async move {
            browser
                .expect_state(&css(id), State::Visible, SHORT)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert_eq!(
        why("#ghost").await,
        "the element matching css \"#ghost\" is not visible (waited 1s): it is transparent (opacity: 0)\n  hint: a person cannot see it either; open the tab, menu or section that shows it first, or check the screenshot"
    );
    assert!(why("#offscreen").await.contains("it is outside the page"));
    assert!(
        why("#vh")
            .await
            .contains("it is hidden (visibility: hidden)")
    );
    assert!(why("#zero").await.contains("it is of zero size"));
    assert!(
        why("#gone")
            .await
            .contains("it is not displayed (display: none)")
    );
    let covered = why("#covered").await;
    assert!(
        covered.contains("it is covered by <div class=\"cover\">")
            && covered.contains("close the popup"),
        "{covered}"
    );

    // Enabled and disabled: `disabled`, `aria-disabled`, and a button enabled by a checkbox.
    let send = Locator::text("送信");
    assert!(
        browser
            .has_state(&send, State::Disabled, None)
            .await
            .unwrap()
    );
    assert!(
        !browser
            .has_state(&send, State::Enabled, None)
            .await
            .unwrap()
    );
    let err = browser
        .expect_state(&send, State::Enabled, SHORT)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "the button, link or text \"送信\" is not enabled (waited 1s): it is disabled (greyed out)\n  hint: the page enables it only after something else is done (a required field, a checkbox)"
    );
    browser
        .set_checked(&Locator::label("内容を確認しました"), true, None)
        .await
        .unwrap();
    browser
        .expect_state(&send, State::Enabled, None)
        .await
        .unwrap();
    assert!(
        browser
            .has_state(&Locator::text("保存"), State::Enabled, None)
            .await
            .unwrap()
    );
    assert!(
        browser
            .has_state(&Locator::text("削除"), State::Disabled, None)
            .await
            .unwrap()
    );
    // Not on the page: neither enabled nor disabled.
    assert!(
        !browser
            .has_state(&css("#nothing"), State::Disabled, None)
            .await
            .unwrap()
    );

    // Present and absent.
    let error = css(".error");
    assert!(
        browser
            .has_state(&error, State::Absent, None)
            .await
            .unwrap()
    );
    assert!(
        browser
            .has_state(&css("#gone"), State::Present, None)
            .await
            .unwrap()
    );
    let err = browser
        .expect_state(&Locator::text("エラーを表示"), State::Absent, SHORT)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is not absent (waited 1s): it is on the page"),
        "{err}"
    );
    browser
        .click(&Locator::text("エラーを表示"), None)
        .await
        .unwrap();
    browser
        .expect_state(&error, State::Present, None)
        .await
        .unwrap();
    assert!(
        browser
            .has_state(&error, State::Visible, None)
            .await
            .unwrap()
    );

    // A missing element gets the usual "did you mean".
    let err = browser
        .expect_state(&Locator::text("エラーを消す"), State::Visible, SHORT)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("it is not on the page") && err.contains("did you mean \"エラーを表示\"?"),
        "{err}"
    );
    // A bad selector is said at once.
    let err = browser
        .has_state(&css("div[["), State::Visible, None)
        .await
        .unwrap_err();
    assert!(matches!(err, BrowserError::BadLocator { .. }), "{err}");
    browser.close().await;
}

#[tokio::test]
async fn assert_text_absent_waits_for_the_text_to_go_away() {
    let (_portal, browser) = widgets().await;
    // Removed by the page after 0.8 s.
    browser
        .assert_text_absent("まもなく消えるお知らせ", None)
        .await
        .unwrap();
    browser
        .assert_text_absent("どこにもない文言", SHORT)
        .await
        .unwrap();
    let err = browser
        .assert_text_absent("表示中のお知らせ", SHORT)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("the page still shows \"表示中のお知らせ\" (waited 1s)\n  hint: "),
        "{err}"
    );
    browser.close().await;
}

#[tokio::test]
async fn fill_reads_the_field_back() {
    let (_portal, browser) = widgets().await;
    let fill = |label: &'static str, text: &'static str, mode: FillMode| {
        let browser = &browser;
        async move {
            browser
                .fill(&Locator::label(label), text, mode, None)
                .await
                .map_err(|e| e.to_string())
        }
    };
    for mode in [FillMode::Type, FillMode::Set] {
        // Kept as typed, or only formatted by the page.
        fill("備考", "至急 対応", mode).await.unwrap();
        fill("フリガナ", "やまだ たろう", mode).await.unwrap();
        fill("数量", "12", mode).await.unwrap();
        // Cleared, changed or cut by the page.
        let err = fill("クーポンコード", "SPRING-10", mode).await.unwrap_err();
        assert_eq!(
            err,
            "the field with the label \"クーポンコード\" is empty after kobo put \"SPRING-10\" in it: the page cleared it\n  hint: check the value in the sheet; if the page is meant to change what is typed (an input mask, a search box that fills itself), add `verify: false` to the step",
            "{mode:?}"
        );
        let err = fill("社員番号", "A-123", mode).await.unwrap_err();
        assert!(
            err.starts_with("the field with the label \"社員番号\" holds \"123\" after kobo put \"A-123\" in it: the page changed it\n"),
            "{mode:?}: {err}"
        );
        // A password is never shown.
        let err = fill("暗証番号", "9876", mode).await.unwrap_err();
        assert!(
            err.starts_with("the field with the label \"暗証番号\" does not hold what kobo put in it: the page cleared it") && !err.contains("9876"),
            "{mode:?}: {err}"
        );
    }
    // Typing stops at maxlength.
    let err = fill("郵便番号（5桁）", "1234567", FillMode::Type)
        .await
        .unwrap_err();
    assert!(
        err.contains("holds \"12345\" after kobo put \"1234567\" in it: the page cut it to 5 characters\n  hint: the field is shorter than the value"),
        "{err}"
    );
    // Formats the page applies on change (set mode sends it): hyphens, a date field.
    fill("電話番号", "0312345678", FillMode::Set).await.unwrap();
    assert_eq!(
        browser
            .value(&Locator::label("電話番号"), None)
            .await
            .unwrap(),
        "03-1234-5678"
    );
    fill("日付", "2026-04-01", FillMode::Set).await.unwrap();

    // `verify: false` opts out.
    browser
        .fill_verify(
            &Locator::label("クーポンコード"),
            "SPRING-10",
            FillMode::Type,
            false,
            None,
        )
        .await
        .unwrap();

    // fill_form's one-call path reads back in the same call, and names the field.
    let fields = vec![
        (Locator::label("備考"), "まとめて".to_string()),
        (Locator::label("クーポンコード"), "SPRING-10".to_string()),
    ];
    let err = browser
        .fill_many(&fields, FillMode::Set, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "the field with the label \"クーポンコード\" is empty after kobo put \"SPRING-10\""
        ),
        "{err}"
    );
    browser
        .fill_many_verify(&fields, FillMode::Set, false, None)
        .await
        .unwrap();
    assert_eq!(
        browser.value(&Locator::label("備考"), None).await.unwrap(),
        "まとめて"
    );
    browser.close().await;
}

/// The new keys in a workflow: `if` on an element, `assert`, `wait_for … state`, `hover`,
/// `scroll_into_view`, `assert_text … absent`, `fill … verify`.
#[tokio::test]
async fn a_workflow_branches_on_what_the_page_shows() {
    let portal = portal::start().await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let records = Records::open(&home.path().join("records.db"))
        .await
        .unwrap();
    let yaml = format!(
        r##"name: t
client: acme
author: olena
params:
  portal_url: "{url}"
steps:
  - open: "{{{{ params.portal_url }}}}/login"
  - fill_form: {{ fields: {{ ユーザーID: demo, パスワード: kobo-demo-pass }} }}
  - click: ログイン
  - open: "{{{{ params.portal_url }}}}/widgets"
  - wait_for: {{ css: "#loading", state: hidden }}
  - if: {{ css: ".error", state: visible }}
    then: [ {{ log: "error shown at first" }} ]
    else: [ {{ log: "no error at first" }} ]
  - click: エラーを表示
  - if: {{ text: 入力エラーがあります, state: visible, timeout_secs: 5 }}
    then: [ {{ log: "error shown after the click" }} ]
  - assert: {{ text: 送信, state: disabled }}
  - check: {{ label: 内容を確認しました }}
  - assert: {{ text: 送信, state: enabled }}
  - hover: 申請
  - click: 休暇申請
  - assert_text: 休暇申請を開きました
  - scroll_into_view: {{ css: "#bottom" }}
  - assert_text: {{ text: まもなく消えるお知らせ, absent: true }}
  - fill: {{ label: クーポンコード, value: SPRING-10, verify: false }}
  - fill: {{ label: クーポンコード, value: SPRING-10 }}
"##,
        url = portal.url()
    );
    let w = Workflow::parse(Path::new("t.yaml"), &yaml).unwrap_or_else(|e| panic!("{e}"));
    assert!(w.needs_browser());
    let outcome = execute(&w, &records, RunOptions::new(home.path()))
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Failed);
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("step #18 fill (line 27)")
            && error.contains("the field with the label \"クーポンコード\" is empty after kobo put \"SPRING-10\" in it"),
        "{error}"
    );
    let log = std::fs::read_to_string(outcome.folder.join("log.jsonl")).unwrap();
    let at = |s: &str| {
        log.find(s)
            .unwrap_or_else(|| panic!("the log has no \"{s}\":\n{log}"))
    };
    assert!(at("no error at first") < at("error shown after the click"));
    assert!(!log.contains("error shown at first"));
}
