//! A Factory with no production root yet (issue 13 item 2): its proposal
//! holds the CI chain alone, and the signer derives the first production
//! root from the new CI root as fioctl's `genProdTufRoot` does (a copy,
//! version included, targets threshold 2), shows it, signs it with the same
//! keys, and anchors it, so that the next ceremony's production chain starts
//! from it.

use ceremony::bundle::Bundle;
use ceremony::rules::check_step;
use ceremony_tests::prelude::*;
use time::OffsetDateTime;

#[test]
fn the_first_production_root_is_derived_shown_signed_and_anchored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    f.import(d, Vec::new());
    let mut proposal = f.rotation();
    proposal.chains.retain(|c| c.name == "ci");
    write_proposal(d, "proposal.json", &proposal);

    let review = ok(&signer(d, ["review", "proposal.json"]));
    assert!(review.contains("chain ci: v1 -> v2"), "{review}");
    assert!(review.contains("chain prod: v1 -> v2"), "{review}");
    assert!(
        review.contains("this Factory has no production root yet"),
        "{review}"
    );
    // The one difference from the CI root is on the screen.
    let prod_part = &review[review.find("chain prod").unwrap()..];
    assert!(prod_part.contains("threshold"), "{review}");

    let out = ok(&signer(
        d,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some("pass.txt")),
    ));
    assert!(out.contains("no production root yet"), "{out}");
    let bundle = Bundle::from_slice(&std::fs::read(d.join("bundle.json")).unwrap()).unwrap();
    assert!(bundle.complete);
    let names: Vec<&str> = bundle.roots.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ci", "prod"]);
    let ci = bundle.root(&bundle.roots[0]).unwrap();
    let prod = bundle.root(&bundle.roots[1]).unwrap();
    assert_eq!(prod.version().unwrap(), ci.version().unwrap());
    assert_eq!(prod.role("targets").unwrap().threshold, 2);
    assert_eq!(ci.role("targets").unwrap().threshold, 1);
    // Everything else is the CI root's, and both are signed by the old and
    // the new root key, as fioctl signs them.
    let (mut a, mut b) = (ci.signed().clone(), prod.signed().clone());
    a["roles"]["targets"]["threshold"] = 0.into();
    b["roles"]["targets"]["threshold"] = 0.into();
    assert_eq!(a, b);
    let now = OffsetDateTime::now_utc();
    let verdict = check_step(Some(&f.ci), &prod, Some(now));
    assert!(verdict.ok(), "{:?}", verdict.failures);
    assert_eq!(prod.signatures().unwrap().len(), 2);

    // The next rotation has a production chain, which starts from the
    // anchored first production root: no first use.
    let next = factory_proposal(
        &ci,
        &prod,
        rotate_change(vec![bundle.new_keys[0].keyid.clone()]),
    );
    write_proposal(d, "proposal3.json", &next);
    let out = ok(&signer(
        d,
        SignArgs::new()
            .proposal("proposal3.json")
            .keys("keys2.tgz.age")
            .out("bundle3.json")
            .new_archive(Some("keys3.tgz.age"))
            .passphrase_file(Some("pass.txt")),
    ));
    assert!(!out.contains("First use"), "{out}");
}

#[test]
fn upload_refuses_a_first_production_root_that_is_not_the_derived_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = OtaFactory::new(false);
    f.import(d, Vec::new());
    let mut proposal = f.rotation();
    proposal.chains.retain(|c| c.name == "ci");
    write_proposal(d, "proposal.json", &proposal);
    ok(&signer(
        d,
        SignArgs::new()
            .new_archive(Some("keys2.tgz.age"))
            .passphrase_file(Some("pass.txt")),
    ));
    // Tampered on the online side: production with the CI root's targets
    // threshold, which is not what the signer showed and derived.
    let mut b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("bundle.json")).unwrap()).unwrap();
    assert_eq!(b["roots"][1]["name"], "prod");
    b["roots"][1]["root"]["signed"]["roles"]["targets"]["threshold"] = 1.into();
    std::fs::write(d.join("tampered.json"), serde_json::to_vec(&b).unwrap()).unwrap();
    let out = run_in(
        d,
        "submitter",
        ["upload", "tampered.json", "--proposal", "proposal.json"],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("not the first production root derived"), "{t}");
    assert!(t.contains("nothing was sent"), "{t}");
}
