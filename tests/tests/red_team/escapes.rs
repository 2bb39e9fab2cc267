//! Class 2: raw terminal control characters. Each string field of a
//! proposal and of its roots carries a sequence that, printed raw, redraws
//! the operator's screen (clears it, moves the cursor up and erases a line,
//! returns the carriage over a line), renames a window, or reorders and
//! hides text (bidi overrides, zero-width characters, C1 controls); and so
//! do file names. Whatever happens, the terminal must show every change of
//! what is signed, and no raw one may reach it.

use ceremony::Dialect;
use ceremony_tests::ota::key;
use serde_json::{json, Value};

use super::common::*;

/// Clears the screen and draws a clean line in its place.
pub const CLEAR: &str = "\u{1b}[2J\u{1b}[Hrole targets   threshold 1 of 1  (unchanged)";
/// Moves up one line and erases it.
pub const UP: &str = "\u{1b}[1A\u{1b}[2K";
/// Returns the carriage and overwrites the line.
pub const CR: &str = "\rrole root      threshold 1 of 1  (unchanged)";
/// An 8-bit CSI (C1) clear.
pub const C1: &str = "\u{9b}2J\u{85}";
/// A right-to-left override.
pub const BIDI: &str = "\u{202e}lanoitator\u{202c}\u{2066}x\u{2069}";
/// Zero-width and invisible format characters.
pub const ZW: &str = "a\u{200b}b\u{200d}c\u{feff}d\u{2060}\u{ad}";
/// A window-title sequence (OSC) ended by BEL, and DEL, backspace.
pub const OSC: &str = "\u{1b}]0;owned\u{7}\u{7f}\u{8}\u{8}";

fn factory_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut p = factory().proposal();
    edit(&mut p);
    p
}

#[test]
fn control_characters_in_every_string_field() {
    let f = factory();
    let tid = f.role_key_id("targets");
    let mut cases = vec![
        Case::new(
            "txid",
            factory_with(|p| p["txid"] = json!(format!("tx-1{CLEAR}"))),
            either(&["txid"]),
        ),
        Case::new(
            "created",
            factory_with(|p| p["created"] = json!(format!("2026-01-01T00:00:00Z{UP}"))),
            either(&["created"]),
        ),
        Case::new(
            "target factory name",
            factory_with(|p| p["target"]["factory"] = json!(format!("acme{BIDI}"))),
            either(&["factory", "target"]),
        ),
        Case::new(
            "target api",
            factory_with(|p| p["target"]["api"] = json!(format!("https://api.foundries.io{OSC}"))),
            either(&["api", "target"]),
        ),
        Case::new(
            "chain name",
            factory_with(|p| p["chains"][0]["name"] = json!(format!("ci{UP}"))),
            refuse(&["chain"]),
        ),
        Case::new(
            "history hash",
            factory_with(|p| {
                let h = p["chains"][0]["history"][0]["sha256"]
                    .as_str()
                    .unwrap()
                    .to_string();
                p["chains"][0]["history"][0]["sha256"] = json!(format!("{h}{CR}"));
            }),
            either(&["history", "sha256"]),
        ),
        Case::new(
            "change message",
            factory_with(|p| p["change"]["message"] = json!(format!("yearly{CR}{C1}"))),
            either(&["message"]),
        ),
        Case::new(
            "staged x-changelog message",
            factory_with(|p| {
                p["chains"][0]["staged"]["signed"]["x-changelog"]["message"] =
                    json!(format!("rotate{CLEAR}"))
            }),
            either(&["x-changelog", "message"]),
        ),
        Case::new(
            "polis id",
            factory_with(|p| p["polis_id"] = json!(format!("user{ZW}"))),
            either(&["polis"]),
        ),
        Case::new(
            "key id of a new targets key in the staged root",
            factory_with(|p| {
                let s = &mut p["chains"][0]["staged"]["signed"];
                let evil = format!("{tid}{UP}");
                s["keys"][&evil] = key(false).public_key().to_key_object(Dialect::OtaTuf);
                s["roles"]["targets"]["keyids"] = json!([evil]);
            }),
            either(&["key"]),
        ),
        Case::new(
            "role name in the staged root",
            factory_with(|p| {
                p["chains"][0]["staged"]["signed"]["roles"][format!("targets{CLEAR}")] =
                    json!({"keyids": [tid], "threshold": 1})
            }),
            either(&["role"]),
        ),
        Case::new(
            "field name in the staged root",
            factory_with(|p| {
                p["chains"][0]["staged"]["signed"][format!("x-{BIDI}note")] = json!("hidden")
            }),
            either(&["x-"]),
        ),
        Case::new(
            "expires of the change",
            factory_with(|p| p["change"]["expires"] = json!(format!("2027-01-01T00:00:00Z{UP}"))),
            refuse(&["expires", "expiry"]),
        ),
        Case::new(
            "key type of the change",
            factory_with(|p| p["change"]["key_type"] = json!(format!("ed25519{OSC}"))),
            refuse(&["key_type", "key type"]),
        ),
        Case::new(
            "key id to rotate",
            factory_with(|p| {
                let id = p["change"]["rotate"]["keys"][0]
                    .as_str()
                    .unwrap()
                    .to_string();
                p["change"]["rotate"]["keys"][0] = json!(format!("{id}{ZW}"));
            }),
            refuse(&["rotate", "key"]),
        ),
    ];
    // The attack of issue 12 itself: the server adds a targets key and
    // hides it behind a message that clears the screen and draws a clean
    // diff.
    let added = key(false).public_key();
    let added_id = added.key_id(Dialect::OtaTuf);
    cases.push(Case::new(
        "an added targets key hidden by a screen-clearing message",
        factory_with(|p| {
            let s = &mut p["chains"][0]["staged"]["signed"];
            s["keys"][&added_id] = added.to_key_object(Dialect::OtaTuf);
            s["roles"]["targets"]["keyids"] = json!([tid, added_id]);
            s["x-changelog"]["message"] = json!(format!("rotate{CLEAR}{UP}{UP}"));
        }),
        either(&["x-changelog", "message", added_id.as_str()]),
    ));
    let odd = format!("p{CLEAR}{BIDI}.json");
    let odd_out = format!("b{OSC}{C1}.json");
    cases.push(Case::new("file names", f.proposal(), either(&["json"])).files(&odd, &odd_out));
    let mut problems = run_cases(cases, || f.case(&["keys.tgz.age"]));

    // TUF: the folder path, a provided key's holder, the txid.
    let t = tuf();
    let base = t.json("proposal.json");
    let pubkey = t.json("pubkey.json");
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut p = base.clone();
        edit(&mut p);
        p
    };
    let cases = vec![
        Case::new(
            "tuf target path",
            with(&|p| p["target"]["path"] = json!(format!("/srv/repo{CR}"))),
            either(&["path", "target"]),
        ),
        Case::new(
            "tuf txid",
            with(&|p| p["txid"] = json!(format!("t{C1}{OSC}"))),
            either(&["txid"]),
        ),
        Case::new(
            "tuf holder of a provided key",
            with(&|p| {
                p["change"]["provided_keys"] = json!([{
                    "key": tuf_key_object(&pubkey),
                    "holder": format!("alice{CLEAR}"),
                }])
            }),
            either(&["holder", "alice"]),
        ),
    ];
    problems.extend(run_cases(cases, || t.case(&["keys.tgz.age"])));
    report("control characters", problems);
}

/// The TUF key object of a `signer keygen` public-key file.
pub fn tuf_key_object(pubkey: &Value) -> Value {
    let pem = pubkey["spki_pem"].as_str().unwrap();
    let k = ceremony::keys::PublicKey::from_pem(pem).expect("a public key");
    k.to_key_object(Dialect::Tuf)
}
