//! Signing: the keys this holder can sign with (in the archive, or on a
//! PKCS#11 token, opened and test-signed before anything is generated or
//! written), and the signatures over each new root.

use anyhow::{Context, Result};
use ceremony_cli::{eprintln, println};

use ceremony::diff::key_description;
use ceremony::keys::{PublicKey, Signer};
use ceremony::proposal::Proposal;
use ceremony::rotation::ChainPlan;
use ceremony::transcript::event::{Signature, Tokens};
use ceremony::transcript::{Event, TranscriptWriter};

use super::args::SignArgs;
use super::preflight::Ceremony;
use super::root_key_ids_of;
use crate::commands::Opened;
use crate::keystore::KeyArchive;
use crate::pkcs11::{self, TokenArgs, TokenSet, Wanted};
use crate::UsageError;

/// Opens the token keys the archive records that must sign here, and the
/// module for new keys made on a token, and records them.
pub(super) fn open(args: &SignArgs, c: &mut Ceremony, opened: &Opened) -> Result<Option<TokenSet>> {
    let tokens = {
        let wanted = token_keys_needed(&c.proposal, &opened.archive, &c.provided)?;
        open_tokens(&args.token, &wanted, c.to_generate)?
    };
    if let Some(set) = &tokens {
        for k in &set.keys {
            println!(
                "  {} opened: it holds the recorded key and its test signature verifies",
                k.reference().describe()
            );
        }
        // The token module writes its record as JSON; read as the event, so
        // the transcript holds exactly the fields its schema has.
        let record: Tokens = serde_json::from_value(set.transcript())
            .context("the token record does not have the transcript's fields")?;
        c.transcript.append(&Event::Tokens(record))?;
    }
    Ok(tokens)
}

/// Signs `plan`'s new root with every key in `held` that belongs, printing
/// and recording each signature.
pub(super) fn sign(
    t: &mut TranscriptWriter,
    plan: &mut ChainPlan,
    held: &[Usable<'_>],
) -> Result<()> {
    for line in sign_plan(plan, held)? {
        println!("  {line}");
        t.append(&Event::Signature(Signature {
            chain: plan.name.clone(),
            detail: line,
        }))?;
    }
    Ok(())
}

/// A key this holder can sign with: in the archive, or on a token (opened).
pub(super) struct Usable<'a> {
    /// The archive entry, or `key "L" on token "T"`.
    name: String,
    pub(super) public: &'a PublicKey,
    pub(super) signer: &'a dyn Signer,
    on_token: bool,
}

/// The archive's keys, and its token keys that were opened.
pub(super) fn usable<'a>(ka: &'a KeyArchive, tokens: Option<&'a TokenSet>) -> Vec<Usable<'a>> {
    let mut out: Vec<Usable<'a>> = ka
        .keys
        .iter()
        .map(|k| Usable {
            name: k.entry.clone(),
            public: &k.public,
            signer: &k.private,
            on_token: false,
        })
        .collect();
    if let Some(set) = tokens {
        for k in &ka.token_keys {
            if let Some(tk) = set.key(&k.info.token) {
                out.push(Usable {
                    name: k.name(),
                    public: &k.public,
                    signer: tk,
                    on_token: true,
                });
            }
        }
    }
    out
}

/// The token keys the archive records that must sign: root keys of a
/// current root, or provided new keys.
fn token_keys_needed<'a>(
    proposal: &Proposal,
    ka: &'a KeyArchive,
    provided: &[PublicKey],
) -> Result<Vec<Wanted<'a>>> {
    let mut out = Vec::new();
    for k in &ka.token_keys {
        let mut needed = provided.contains(&k.public);
        for chain in &proposal.chains {
            let current = proposal.current_root(chain)?;
            needed |= root_key_ids_of(&current, &k.public).is_some();
            // Signing the staged roots as they are: a root key they add is
            // held here too, and signs.
            if proposal.change.sign_staged {
                if let Some(staged) = proposal.staged_root(chain)? {
                    needed |= root_key_ids_of(&staged, &k.public).is_some();
                }
            }
        }
        if needed {
            out.push(Wanted {
                reference: &k.info.token,
                public: &k.public,
            });
        }
    }
    Ok(out)
}

/// Opens the token keys that must sign (each is found, checked against the
/// recorded public key and test-signed), and the module for new keys made
/// on a token; before anything is generated or written.
fn open_tokens(
    args: &TokenArgs,
    wanted: &[Wanted<'_>],
    to_generate: usize,
) -> Result<Option<TokenSet>> {
    let generate_there = args.token.is_some() && to_generate > 0;
    if args.token.is_some() && to_generate == 0 {
        eprintln!("note: this ceremony generates no key; --token is not used");
    }
    if args.key_label.is_some() && !generate_there {
        eprintln!("note: --key-label names keys made on a token (with --token); it is not used");
    }
    let Some(module) = &args.module else {
        if wanted.is_empty() {
            return Ok(None);
        }
        let list = wanted
            .iter()
            .map(|w| {
                format!(
                    "{} ({}, fingerprint {}; module when recorded: {})",
                    w.reference.describe(),
                    key_description(w.public),
                    w.public.fingerprint(),
                    w.reference.module_hint
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(UsageError(format!(
            "this ceremony needs root key(s) on a PKCS#11 token: {list}. Pass --pkcs11-module PATH \
             (the token's PKCS#11 library) and insert the token; --pin-file FILE gives the PIN \
             without asking. Nothing was signed or written"
        ))
        .into());
    };
    if wanted.is_empty() && !generate_there {
        eprintln!("note: no key on a token signs in this ceremony; --pkcs11-module is not used");
        return Ok(None);
    }
    let module = pkcs11::Module::load(module)?;
    Ok(Some(TokenSet::open(
        module,
        args.pin_file.as_deref(),
        wanted,
    )?))
}

/// Signs `plan.new` with every held key that is a root key of the current
/// or of the new root; returns a line per signature. Every signature is
/// verified in software before it goes in (`RootMetadata::sign_with`).
fn sign_plan(plan: &mut ChainPlan, held: &[Usable<'_>]) -> Result<Vec<String>> {
    let mut made = Vec::new();
    for k in held {
        let old_id = root_key_ids_of(&plan.current, k.public);
        let new_id = root_key_ids_of(&plan.new, k.public);
        let mut ids = Vec::new();
        if let Some(id) = old_id {
            ids.push((id, "current"));
        }
        if let Some(id) = new_id {
            if !ids.iter().any(|(i, _)| i == &id) {
                ids.push((id, "new"));
            }
        }
        for (id, which) in ids {
            plan.new
                .sign_with(&id, k.signer)
                .with_context(|| format!("signing with {} failed", k.name))?;
            made.push(format!(
                "{}: signed as {} key {} ({}, fingerprint {}){}",
                plan.name,
                which,
                ceremony::untrusted::escape(&id),
                key_description(k.public),
                k.public.fingerprint(),
                if k.on_token {
                    format!(", on the token: {}", k.name)
                } else {
                    String::new()
                }
            ));
        }
    }
    Ok(made)
}
