//! A minimal in-process signer for tests that are about the submitter, not
//! the signer: it builds the new roots of a proposal with the library's
//! `rotation::plan` and signs them with whichever keys it is given, so a test
//! can make complete, partial or deliberately broken bundles without the
//! encrypted archive, prompts or transcript of the real `signer`.

use std::io::Read as _;
use std::path::Path;

use time::OffsetDateTime;

use ceremony::bundle::{Bundle, NewKey, SignedRoot, BUNDLE_FORMAT};
use ceremony::bundle_check::bundle_status;
use ceremony::diff::key_description;
use ceremony::keys::PrivateKey;
use ceremony::proposal::Proposal;
use ceremony::rotation::plan;

/// Builds and signs the new roots of the proposal at `proposal_path`.
/// `old` keys sign where the current root lists them, `new` keys are the new
/// root keys (in the order the change adds them) and sign too; `sign_new`
/// says which of the new keys sign (all, when `None`).
pub fn make_bundle(
    proposal_path: &Path,
    old: &[&PrivateKey],
    new: &[&PrivateKey],
    sign_new: Option<&[usize]>,
) -> Bundle {
    let bytes = std::fs::read(proposal_path).expect("read proposal");
    let proposal = Proposal::from_slice(&bytes).expect("a proposal");
    let now = OffsetDateTime::now_utc();
    let pubs: Vec<_> = new.iter().map(|k| k.public_key()).collect();
    let plans = plan(&proposal, &pubs, now).expect("the change can be planned");
    let mut roots = Vec::new();
    let mut new_keys = Vec::new();
    for p in &plans {
        let mut root = p.new.clone();
        for k in old {
            if let Some(id) = root
                .find_key_id(&k.public_key())
                .or_else(|| p.current.find_key_id(&k.public_key()))
            {
                root.sign(&id, k).expect("sign");
            }
        }
        for (i, k) in new.iter().enumerate() {
            if sign_new.is_some_and(|s| !s.contains(&i)) {
                continue;
            }
            let id = root.find_key_id(&k.public_key()).expect("new key listed");
            root.sign(&id, k).expect("sign");
        }
        roots.push(SignedRoot {
            name: p.name.clone(),
            root: root.envelope().clone(),
        });
        if new_keys.is_empty() {
            for a in &p.added {
                new_keys.push(NewKey {
                    keyid: a.keyid.clone(),
                    key: a.key.to_key_object(proposal.dialect),
                    fingerprint: a.key.fingerprint(),
                    description: key_description(&a.key),
                });
            }
        }
    }
    let mut bundle = Bundle {
        format: BUNDLE_FORMAT.to_string(),
        proposal_sha256: ceremony::sha256::hex(&bytes),
        dialect: proposal.dialect,
        target: proposal.target.clone(),
        txid: proposal.txid.clone(),
        roots,
        new_keys,
        complete: false,
        missing: Vec::new(),
        transcript_head: None,
        targets_signatures: Default::default(),
        waves_signatures: Default::default(),
    };
    let status = bundle_status(&proposal, &bundle, now).expect("status");
    bundle.complete = status.complete();
    if !bundle.complete {
        bundle.missing = status.problems();
    }
    bundle
}

/// Reads one entry of a gzip'd tar (a fioctl key tarball).
pub fn tgz_entry(tgz: &Path, name: &str) -> Vec<u8> {
    let f = std::fs::File::open(tgz).expect("open tarball");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for e in ar.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        if e.path().expect("path").to_string_lossy() == name {
            let mut out = Vec::new();
            e.read_to_end(&mut out).expect("read entry");
            return out;
        }
    }
    panic!("{name} is not in {}", tgz.display());
}

/// The first-root private key of a simulated Factory's key tarball.
pub fn factory_first_root(state: &Path) -> PrivateKey {
    let sec = tgz_entry(
        &state.join("factory-keys.tgz"),
        "tufrepo/keys/first-root.sec",
    );
    PrivateKey::from_ats_json(&sec).expect("first-root.sec parses")
}
