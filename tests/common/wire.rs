//! The server's answers read field by field (`pwa_sync::wire`): what serde's derives
//! accepted is accepted (unknown fields too), what they refused is refused, and a whole
//! number must be one JS holds exactly. The answers as the client meets them over HTTP,
//! bad ones included, are in `bad_input`.

use js_sys::JSON;
use pwa_sync::value::JsVal;
use pwa_sync::wire::{self, error_message};
use pwa_sync_core::protocol::{MutationResult, PullResponse, PushResponse, Role, SpacesResponse};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn parsed(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

// Each answer as the transport takes it: checked as the script's exchange checks it, then
// read.
fn pull_page(answer: &JsValue) -> Result<PullResponse<JsVal>, String> {
    wire::problem("pull", answer)?;
    wire::pull_page(answer)
}

fn push_answer(answer: &JsValue) -> Result<PushResponse, String> {
    wire::problem("push", answer)?;
    wire::push_answer(answer)
}

fn spaces_answer(answer: &JsValue) -> Result<SpacesResponse, String> {
    wire::problem("spaces", answer)?;
    wire::spaces_answer(answer)
}

#[wasm_bindgen_test]
fn a_pull_page_is_read_with_its_values_left_in_js() {
    let page = pull_page(&parsed(
        r#"{"changes": [
            {"collection": "trips", "key": "a", "version": 3, "value": {"id": "a", "n": 1}, "hlc": "h1", "space": "g:1", "schemaVersion": 2, "extra": true},
            {"collection": "trips", "key": "b", "version": 4, "value": null, "hlc": "h2"}
        ], "checkpoint": 9, "hasMore": true, "serverTime": 1700000000000, "revoked": ["g:2"], "future": {}}"#,
    ))
    .unwrap();
    assert_eq!((page.checkpoint, page.has_more, page.server_time), (9, true, Some(1_700_000_000_000)));
    assert_eq!(page.revoked, ["g:2"]);
    let [a, b] = &page.changes[..] else { panic!("two changes: {}", page.changes.len()) };
    assert_eq!((a.key.as_str(), a.version, a.space.as_deref(), a.schema_version), ("a", 3, Some("g:1"), Some(2)));
    assert_eq!(JSON::stringify(&a.value.as_ref().unwrap().0).unwrap(), r#"{"id":"a","n":1}"#);
    assert!(b.value.is_none() && b.space.is_none() && b.schema_version.is_none());
    // Without the optional fields.
    let page = pull_page(&parsed(r#"{"changes": [], "checkpoint": 0, "hasMore": false}"#)).unwrap();
    assert!(page.changes.is_empty() && page.revoked.is_empty() && page.server_time.is_none());
}

#[wasm_bindgen_test]
fn a_pull_page_serde_refused_is_refused_and_named() {
    let change = r#"{"collection": "trips", "key": "a", "version": 3, "value": {}, "hlc": "h"}"#;
    let bad = [
        ("null", "the pull answer must be an object"),
        ("[]", "the pull answer must be an object"),
        (r#"{"checkpoint": 1, "hasMore": false}"#, "missing field `changes`"),
        (r#"{"changes": {}, "checkpoint": 1, "hasMore": false}"#, "`changes` in the pull answer must be a list"),
        (r#"{"changes": [], "checkpoint": -1, "hasMore": false}"#, "`checkpoint`"),
        (r#"{"changes": [], "checkpoint": 1.5, "hasMore": false}"#, "`checkpoint`"),
        (r#"{"changes": [], "checkpoint": 9007199254740992, "hasMore": false}"#, "`checkpoint`"),
        (r#"{"changes": [], "checkpoint": "1", "hasMore": false}"#, "`checkpoint`"),
        (r#"{"changes": [], "checkpoint": 1, "hasMore": 0}"#, "`hasMore`"),
        (r#"{"changes": [], "checkpoint": 1, "hasMore": false, "revoked": null}"#, "`revoked`"),
        (r#"{"changes": [], "checkpoint": 1, "hasMore": false, "revoked": [1]}"#, "`revoked`"),
        (r#"{"changes": [], "checkpoint": 1, "hasMore": false, "serverTime": -5}"#, "`serverTime`"),
        (r#"{"changes": [], "checkpoint": 1, "hasMore": null}"#, "`hasMore` in the pull answer must be true or false"),
        (
            r#"{"changes": [], "checkpoint": 1, "hasMore": false, "revoked": null}"#,
            "`revoked` in the pull answer must be a list",
        ),
        (
            r#"{"changes": [], "checkpoint": 1.5, "hasMore": false}"#,
            "`checkpoint` in the pull answer must be a whole number from 0 to 9007199254740991",
        ),
    ];
    for (text, expected) in bad {
        let err = pull_page(&parsed(text)).err().unwrap_or_else(|| panic!("{text} was read"));
        assert!(err.contains(expected), "{text}: {err}");
    }
    let changes = [
        (change.replace(r#""key": "a", "#, ""), "missing field `key` in changes[1]"),
        (change.replace(r#""version": 3"#, r#""version": "3""#), "`version` in changes[1]"),
        (change.replace(r#""hlc": "h""#, r#""hlc": 5"#), "`hlc` in changes[1] must be a string"),
        (change.replace(r#""hlc": "h""#, r#""hlc": "h", "schemaVersion": 4294967296"#), "`schemaVersion`"),
        (change.replace(r#""hlc": "h""#, r#""hlc": "h", "space": 7"#), "`space`"),
        ("7".to_owned(), "changes[1] must be an object"),
    ];
    for (bad, expected) in changes {
        let text = format!(r#"{{"changes": [{change}, {bad}], "checkpoint": 1, "hasMore": false}}"#);
        let err = pull_page(&parsed(&text)).err().unwrap_or_else(|| panic!("{text} was read"));
        assert!(err.contains(expected), "{text}: {err}");
    }
}

#[wasm_bindgen_test]
fn push_results_are_read_as_their_status_says() {
    let answer = push_answer(&parsed(
        r#"{"results": [
            {"id": 1, "status": "applied", "version": 7},
            {"id": 2, "status": "conflict", "server": {"version": 8, "value": {"id": "b", "n": 2}, "hlc": "h", "schemaVersion": 3}},
            {"id": 3, "status": "rejected", "code": "forbidden", "message": "no"},
            {"id": 4, "status": "conflict", "server": {"version": 9, "value": null, "hlc": "h"}}
        ], "lastMutationId": 4, "serverTime": 5}"#,
    ))
    .unwrap();
    assert_eq!((answer.last_mutation_id, answer.server_time), (4, Some(5)));
    assert_eq!(answer.results[0], MutationResult::Applied { id: 1, version: 7 });
    let MutationResult::Conflict { id: 2, server } = &answer.results[1] else { panic!("{:?}", answer.results[1]) };
    assert_eq!((server.version, server.schema_version), (8, Some(3)));
    assert_eq!(server.value, Some(serde_json::json!({"id": "b", "n": 2})));
    assert_eq!(answer.results[2], MutationResult::Rejected { id: 3, code: "forbidden".into(), message: "no".into() });
    let MutationResult::Conflict { server, .. } = &answer.results[3] else { panic!("{:?}", answer.results[3]) };
    assert_eq!(server.value, None);

    let bad = [
        (r#"{"results": [{"id": 1, "status": "applied"}], "lastMutationId": 1}"#, "missing field `version`"),
        (r#"{"results": [{"id": 1, "status": "conflict"}], "lastMutationId": 1}"#, "missing field `server`"),
        (r#"{"results": [{"id": 1, "status": "lost"}], "lastMutationId": 1}"#, "unknown variant `lost`"),
        (
            r#"{"results": [{"status": "applied", "version": 1}], "lastMutationId": 1}"#,
            "missing field `id` in results[0]",
        ),
        (r#"{"results": [{"id": 1, "status": "applied", "version": 1}]}"#, "missing field `lastMutationId`"),
        (
            r#"{"results": [{"id": 1, "status": "conflict", "server": {"value": {}, "hlc": "h"}}], "lastMutationId": 1}"#,
            "missing field `version` in results[0].server",
        ),
        (
            r#"{"results": [{"id": 1, "status": "conflict", "server": 3}], "lastMutationId": 1}"#,
            "results[0].server must be an object",
        ),
        (r#"{"results": "x", "lastMutationId": 1}"#, "`results`"),
        (
            r#"{"results": [{"id": 1, "status": "rejected", "code": "c"}], "lastMutationId": 1}"#,
            "missing field `message`",
        ),
        (
            r#"{"results": [{"id": 1, "status": "applied", "version": null}], "lastMutationId": 1}"#,
            "missing field `version`",
        ),
        (r#"{"results": [{"id": 1, "status": "constructor"}], "lastMutationId": 1}"#, "unknown variant `constructor`"),
        (
            r#"{"results": [{"id": 1, "status": 5, "version": 1}], "lastMutationId": 1}"#,
            "`status` in results[0] must be a string",
        ),
        (r#"{"results": [{"id": 1.5, "status": "applied", "version": 1}], "lastMutationId": 1}"#, "`id` in results[0]"),
        (
            r#"{"results": [{"id": 1, "status": "conflict", "server": {"version": 1, "hlc": 2}}], "lastMutationId": 1}"#,
            "`hlc` in results[0].server must be a string",
        ),
        (r#"{"results": [], "lastMutationId": 1, "serverTime": "now"}"#, "`serverTime` in the push answer"),
    ];
    for (text, expected) in bad {
        let err = push_answer(&parsed(text)).err().unwrap_or_else(|| panic!("{text} was read"));
        assert!(err.contains(expected), "{text}: {err}");
    }
    // A conflict's server value is read whole by Rust, after the script's check: one nested
    // deeper than it reads JSON is refused, and named.
    let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
    let text = format!(
        r#"{{"results": [{{"id": 1, "status": "conflict", "server": {{"version": 1, "hlc": "h", "value": {deep}}}}}], "lastMutationId": 1}}"#
    );
    let err = push_answer(&parsed(&text)).unwrap_err();
    assert!(err.starts_with("`value` in results[0].server: nested more than 480 levels deep"), "{err}");
}

#[wasm_bindgen_test]
fn spaces_and_error_bodies_are_read() {
    let spaces =
        spaces_answer(&parsed(r#"{"spaces": [{"id": "g:1", "role": "owner"}, {"id": "g:2", "role": "reader"}]}"#))
            .unwrap()
            .spaces;
    assert_eq!(
        spaces.iter().map(|s| (s.id.as_str(), s.role)).collect::<Vec<_>>(),
        [("g:1", Role::Owner), ("g:2", Role::Reader)]
    );
    let err = spaces_answer(&parsed(r#"{"spaces": [{"id": "g:1", "role": "king"}]}"#)).unwrap_err();
    assert!(err.contains("`role` in spaces[0]") && err.contains("king"), "{err}");
    assert!(spaces_answer(&parsed(r#"{"spaces": [{"role": "owner"}]}"#)).unwrap_err().contains("missing field `id`"));
    let err = spaces_answer(&parsed(r#"{"spaces": [{"id": "g:1", "role": "owner"}, {"id": "g:2", "role": 3}]}"#));
    assert_eq!(err.unwrap_err(), "`role` in spaces[1] must be a string");
    let err = spaces_answer(&parsed(r#"{"spaces": [{"id": "g:1", "role": "toString"}]}"#)).unwrap_err();
    assert_eq!(err, r#"`role` in spaces[0]: unknown role "toString""#);
    assert_eq!(spaces_answer(&parsed("[]")).unwrap_err(), "the spaces answer must be an object");

    assert_eq!(error_message(r#"{"error": {"code": "x", "message": "why"}}"#).as_deref(), Some("why"));
    assert_eq!(error_message(r#"{"error": {"message": "no code"}}"#).as_deref(), Some("no code"));
    let not_one = [
        r#"{"error": {"code": 5, "message": "m"}}"#,
        r#"{"error": {"code": null, "message": "m"}}"#,
        r#"{"error": {"message": 5}}"#,
        r#"{"error": ["m"]}"#,
        r#"{"error": "m"}"#,
        r#"{"message": "m"}"#,
        "null",
        "<html>Bad Gateway</html>",
        "",
    ];
    for text in not_one {
        assert_eq!(error_message(text), None, "{text}");
    }
}

/// In a browser module floats are spelled by the JavaScript engine (core's `js-floats`):
/// every finite float a JSON text holds reads back as the same number, zero keeps its
/// sign, and whole numbers are written as serde_json writes them.
#[wasm_bindgen_test]
fn json_texts_spell_floats_that_read_back_exactly() {
    let mut floats = vec![0.1, -0.0, 0.0, 1e21, 1e-7, 5e-324, f64::MAX, f64::MIN_POSITIVE, 123456.789, -2.5e-300];
    // Bit patterns of every kind, from a fixed sequence (an LCG), so a failure repeats.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    while floats.len() < 2_000 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let value = f64::from_bits(state);
        if value.is_finite() {
            floats.push(value);
        }
    }
    let text = pwa_sync_core::json::to_string(&floats);
    let read = js_sys::Array::from(&parsed(&text));
    assert_eq!(read.length() as usize, floats.len());
    for (at, value) in floats.iter().enumerate() {
        let back = read.get(at as u32).as_f64().unwrap();
        assert_eq!(back.to_bits(), value.to_bits(), "{} read back as {}", floats[at], back);
    }
    assert_eq!(pwa_sync_core::json::to_string(&vec![1_764_800_000_000.0_f64, -0.0]), "[1764800000000.0,-0.0]");
    assert_eq!(pwa_sync_core::json::float_text(f64::NAN), "NaN");
}

/// The browser crate's own shapes are written as their serde derives wrote them (the
/// core's are compared with serde by `json::tests` on the host): field names, order and
/// nothing skipped.
#[wasm_bindgen_test]
fn event_details_and_the_sync_result_are_written_as_before() {
    use pwa_sync::api::SyncResult;
    use pwa_sync::client::{ConflictDetail, SpacesDetail};
    use pwa_sync_core::json::to_string;
    use pwa_sync_core::protocol::SpaceRole;

    let result = SyncResult { pushed: 1, pulled: 2, conflicts: 0, rejected: 3, duration_ms: 12.5 };
    assert_eq!(to_string(&result), r#"{"pushed":1,"pulled":2,"conflicts":0,"rejected":3,"durationMs":12.5}"#);
    let local = serde_json::json!({"x": 1});
    let fields = ["x".to_owned()];
    let open = ConflictDetail {
        id: Some(4),
        open: true,
        collection: "notes",
        key: "a\"b",
        local: Some(&local),
        server: None,
        base: None,
        strategy: "manual",
        result: None,
        fields: &fields,
        server_version: Some(7),
    };
    assert_eq!(
        to_string(&open),
        r#"{"id":4,"open":true,"collection":"notes","key":"a\"b","local":{"x":1},"server":null,"base":null,"strategy":"manual","result":null,"fields":["x"],"serverVersion":7}"#
    );
    let settled =
        ConflictDetail { id: None, open: false, result: Some(&local), server_version: None, fields: &[], ..open };
    assert_eq!(
        to_string(&settled),
        r#"{"id":null,"open":false,"collection":"notes","key":"a\"b","local":{"x":1},"server":null,"base":null,"strategy":"manual","result":{"x":1},"fields":[],"serverVersion":null}"#
    );
    let spaces = [SpaceRole { id: "g:1".into(), role: Role::Writer }];
    let revoked = ["g:2".to_owned()];
    let detail = SpacesDetail { spaces: &spaces, revoked: &revoked };
    assert_eq!(to_string(&detail), r#"{"spaces":[{"id":"g:1","role":"writer"}],"revoked":["g:2"]}"#);
}

#[wasm_bindgen::prelude::wasm_bindgen(js_namespace = pwaSyncHttp)]
extern "C" {
    #[wasm_bindgen(js_name = statusClass)]
    fn status_class(status: u16) -> String;
    #[wasm_bindgen(js_name = retryAfterMs)]
    fn retry_after_ms(header: Option<String>) -> Option<f64>;
}

#[wasm_bindgen_test]
fn the_exchange_classifies_every_status_as_the_core_does() {
    pwa_sync::sys::install_scripts_for_tests();
    for status in 100..=599 {
        let class = pwa_sync_core::error::ErrorClass::from_status(status);
        assert_eq!(status_class(status), class.as_str(), "HTTP {status}");
    }
}

#[wasm_bindgen_test]
fn the_exchange_reads_retry_after_as_the_core_does() {
    pwa_sync::sys::install_scripts_for_tests();
    let now = js_sys::Date::now() as u64;
    let date = |ms: f64| String::from(js_sys::Date::new(&ms.into()).to_utc_string());
    let in_a_minute = date(now as f64 + 60_000.0);
    let headers = ["7", " 7 ", "+3", "0", "120", "soon", "", "-5", "1.5", &in_a_minute, &date(now as f64 - 60_000.0)];
    for header in headers {
        let core = pwa_sync_core::retry::parse_retry_after(header, now, |d| {
            let at = js_sys::Date::parse(d);
            at.is_finite().then_some(at as u64)
        });
        let script = retry_after_ms(Some(header.to_owned())).map(|ms| ms as u64);
        match (core, script) {
            // A date's wait is measured from each one's own now: the same within a second.
            (Some(a), Some(b)) if header == in_a_minute => assert!(a.abs_diff(b) < 1_000, "{header}: {a} {b}"),
            (a, b) => assert_eq!(a, b, "{header:?}"),
        }
    }
    assert_eq!(retry_after_ms(None), None, "no header");
}
