//! The proof before signing: the scripts that were shown, applied to the
//! current root, with the anchor the ceremony sets, must give exactly the
//! root about to be signed. The review text is rendered from those scripts,
//! so a difference here means something would be signed that the operator
//! did not see; the ceremony refuses (exit 3) before any signature.

use anyhow::Result;

use ceremony::diff::apply;
use ceremony::rotation::ChainPlan;
use ceremony::transcript;
use ceremony::RootMetadata;

use super::refused;
use super::review::Shown;

/// Checks `plan.new` (anchored, not yet signed) against what `shown` showed;
/// `anchor` is the entry hash [`super::confirm::anchor`] set, if it did.
pub(super) fn check(plan: &ChainPlan, shown: &Shown, anchor: Option<&str>) -> Result<()> {
    let fail = |what: String| {
        refused(format!(
            "{}: the root about to be signed is not the one shown ({what}); nothing was signed. \
             This is a bug or an attack: keep the transcript and report it",
            ceremony::untrusted::escape(&plan.name)
        ))
    };
    let mut env = plan.current.envelope().clone();
    if let Some((_, server)) = &shown.server {
        env = apply(&env, server).map_err(|e| fail(format!("the server's part: {e}")))?;
    }
    env = apply(&env, &shown.ceremony).map_err(|e| fail(e.to_string()))?;
    let mut expected = RootMetadata::from_value(env, plan.new.dialect())
        .map_err(|e| fail(format!("the shown change does not give a root: {e}")))?;
    if let Some(anchor) = anchor {
        transcript::set_anchor(&mut expected, anchor);
        // The anchor is appended to what was shown; the root must then name
        // exactly this ceremony, which it cannot when the message shown
        // already held a transcript marker of its own.
        if transcript::anchor_of(&expected).as_deref() != Some(anchor) {
            return Err(fail(
                "the shown root already holds a transcript marker, so the anchor would not name this ceremony alone"
                    .into(),
            ));
        }
    }
    let canonical = |r: &RootMetadata| r.canonical_signed().map_err(|e| fail(e.to_string()));
    if canonical(&expected)? != canonical(&plan.new)? {
        return Err(fail("the canonical bytes of signed differ".into()));
    }
    // The rest of the envelope is uploaded too.
    let rest = |r: &RootMetadata| {
        let mut v = r.envelope().clone();
        if let Some(m) = v.as_object_mut() {
            m.shift_remove("signatures");
        }
        v
    };
    if rest(&expected) != rest(&plan.new) {
        return Err(fail("an envelope field outside signed differs".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ceremony::diff::Script;
    use ceremony::Dialect;
    use serde_json::json;
    use serde_json::Value;

    fn root(v: Value) -> RootMetadata {
        RootMetadata::from_value(v, Dialect::OtaTuf).unwrap()
    }

    fn plan(current: &Value, new: &Value) -> ChainPlan {
        ChainPlan {
            name: "ci".into(),
            current: root(current.clone()),
            new: root(new.clone()),
            added: Vec::new(),
            removed: Vec::new(),
        }
    }

    #[test]
    fn what_was_shown_passes_and_anything_else_is_refused() {
        let cur = json!({"signed": {"_type": "Root", "version": 1, "x-changelog": {"message": "m"}}, "signatures": []});
        let new = json!({"signed": {"_type": "Root", "version": 2, "x-changelog": {"message": "m"}}, "signatures": []});
        let p = plan(&cur, &new);
        let shown = Shown {
            chain: "ci".into(),
            server: None,
            ceremony: Script::between(&cur, &new),
            server_what: String::new(),
            sign_staged: false,
            note: None,
        };
        check(&p, &shown, None).unwrap();

        // Anchored the same way: passes.
        let mut anchored = p.clone();
        let hash = "ab".repeat(32);
        transcript::set_anchor(&mut anchored.new, &hash);
        check(&anchored, &shown, Some(&hash)).unwrap();

        // Something signed that was not shown: a field added after review.
        let mut sneaky = p.clone();
        sneaky.new.set_extension("x-extra", json!(1));
        let err = check(&sneaky, &shown, None).unwrap_err();
        assert!(
            err.downcast_ref::<crate::VerificationFailed>().is_some(),
            "{err}"
        );
        assert!(err.to_string().contains("not the one shown"), "{err}");

        // An envelope field outside signed.
        let mut env = new.clone();
        env["targets-signatures"] = json!({});
        let err = check(&plan(&cur, &env), &shown, None).unwrap_err();
        assert!(err.to_string().contains("envelope"), "{err}");

        // A message that already carries a marker, cut by the anchor.
        let marked = json!({"signed": {"_type": "Root", "version": 2,
            "x-changelog": {"message": "m [tuf-ceremony transcript 00]"}}, "signatures": []});
        let mut p = plan(&cur, &marked);
        let shown = Shown {
            chain: "ci".into(),
            server: None,
            ceremony: Script::between(&cur, &marked),
            server_what: String::new(),
            sign_staged: false,
            note: None,
        };
        transcript::set_anchor(&mut p.new, &hash);
        let err = check(&p, &shown, Some(&hash)).unwrap_err();
        assert!(err.to_string().contains("transcript marker"), "{err}");
    }
}
