//! Property tests of canonical JSON: in both dialects the form ignores key
//! order and whitespace; the ota-tuf form is valid JSON that parses back to
//! the same value and is refused exactly when a string holds a character
//! devices encode differently; and the TUF form equals securesystemslib's
//! `encode_canonical` byte for byte on hundreds of random values.

use ceremony::canonical::{to_canonical_bytes, CanonicalError};
use ceremony::Dialect;
use ceremony_tests::run_python;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Any characters at all, control and non-ASCII included.
        any::<String>().prop_map(Value::String),
        // Mostly-ASCII strings with the escapes both dialects care about.
        "[a-zA-Z0-9 \"\\\\\n\r\t/-]{0,12}".prop_map(Value::String),
        (-1.0e6f64..1.0e6).prop_map(|f| Value::from(f + 0.5)),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z_é\"-]{0,6}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The same value with every object's keys inserted in reverse order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .rev()
                .map(|(k, v)| (k.clone(), reversed(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_i64().is_none() && n.as_u64().is_none(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

fn ota_safe(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii() && (!c.is_ascii_control() || matches!(c, '\n' | '\r' | '\t')))
}

fn all_strings_ota_safe(v: &Value) -> bool {
    match v {
        Value::String(s) => ota_safe(s),
        Value::Array(a) => a.iter().all(all_strings_ota_safe),
        Value::Object(m) => m
            .iter()
            .all(|(k, v)| ota_safe(k) && all_strings_ota_safe(v)),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn key_order_does_not_matter(v in json_value()) {
        for d in [Dialect::Tuf, Dialect::OtaTuf] {
            prop_assert_eq!(to_canonical_bytes(&v, d), to_canonical_bytes(&reversed(&v), d));
        }
    }

    #[test]
    fn floats_are_always_refused(v in json_value()) {
        let r = to_canonical_bytes(&v, Dialect::Tuf);
        prop_assert_eq!(r.is_err(), has_float(&v));
        if let Err(e) = r {
            let is_not_an_integer = matches!(e, CanonicalError::NotAnInteger { .. });
            prop_assert!(is_not_an_integer);
        }
    }

    #[test]
    fn ota_form_is_json_of_the_same_value_or_refused(v in json_value()) {
        match to_canonical_bytes(&v, Dialect::OtaTuf) {
            Ok(bytes) => {
                prop_assert!(all_strings_ota_safe(&v));
                prop_assert!(bytes.is_ascii());
                let back: Value = serde_json::from_slice(&bytes).expect("ota canonical form is JSON");
                prop_assert_eq!(back, v);
            }
            Err(CanonicalError::ForbiddenCharacter { .. }) => prop_assert!(!all_strings_ota_safe(&v)),
            Err(CanonicalError::NotAnInteger { .. }) => prop_assert!(has_float(&v)),
        }
    }
}

#[test]
fn tuf_form_equals_securesystemslib_on_random_values() {
    let mut runner = TestRunner::new(Config::default());
    let strategy = json_value();
    let values: Vec<Value> = (0..400)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.jsonl");
    let lines: Vec<String> = values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let out = run_python("canonical.py", &["--jsonl".as_ref(), file.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(theirs.len(), values.len());

    let (mut equal, mut refused) = (0, 0);
    for (v, t) in values.iter().zip(theirs) {
        match to_canonical_bytes(v, Dialect::Tuf) {
            Ok(ours) => {
                assert_eq!(hex::encode(ours), t, "value {v}");
                equal += 1;
            }
            Err(_) => {
                assert!(
                    t.starts_with("ERROR"),
                    "we refused {v}, securesystemslib gave {t}"
                );
                refused += 1;
            }
        }
    }
    assert!(
        equal > 200 && refused > 10,
        "equal {equal}, refused {refused}"
    );
}
