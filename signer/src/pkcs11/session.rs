//! Finding the token by its label and logging in to it.
//!
//! PINs come from `--pin-file` or the terminal without echo (or the
//! token's own PIN pad), are held in [`SecretString`]s, wiped on drop, and
//! are never printed: no error here quotes one.

use ceremony_cli::eprintln;
use std::path::Path;
use std::rc::Rc;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::error::Purpose;
use super::{KeyProtection, Module, TokenError, TokenIdentity, TokenRef};
use crate::interrupt::PromptError;

/// The largest PIN file read: a PIN is a line, anything larger is the
/// wrong file.
const MAX_PIN_FILE: u64 = 1024;

/// A token found by label.
pub(super) struct Token {
    pub(super) slot: Slot,
    pub(super) info: TokenInfo,
}

impl Token {
    /// Its label, without the blanks PKCS#11 pads it with.
    pub(super) fn label(&self) -> &str {
        self.info.label().trim_end()
    }

    /// Its label, serial, manufacturer and model.
    pub(super) fn identity(&self) -> TokenIdentity {
        identity(&self.info)
    }

    /// A reference to `key_label`/`key_id` on this token, as the archive
    /// records it: pinned to this token by its serial.
    pub(super) fn reference(
        &self,
        module: &Module,
        key_label: &str,
        key_id: &[u8],
        protection: KeyProtection,
    ) -> TokenRef {
        let id = self.identity();
        TokenRef {
            module_hint: module.path().display().to_string(),
            token_label: id.label,
            token_serial: id.serial,
            token_manufacturer: id.manufacturer,
            token_model: id.model,
            key_label: key_label.to_string(),
            key_id: hex::encode(key_id),
            protection: Some(protection),
        }
    }
}

fn identity(info: &TokenInfo) -> TokenIdentity {
    TokenIdentity {
        label: info.label().trim_end().to_string(),
        serial: info.serial_number().trim().to_string(),
        manufacturer: info.manufacturer_id().trim().to_string(),
        model: info.model().trim().to_string(),
    }
}

impl Module {
    /// The tokens present, by slot.
    fn tokens(&self) -> Result<Vec<(Slot, TokenInfo)>, TokenError> {
        let slots = self
            .ctx()
            .get_slots_with_token()
            .map_err(TokenError::call(format!(
                "the PKCS#11 module {} cannot list its tokens",
                self.path().display()
            )))?;
        let mut out = Vec::new();
        for slot in slots {
            if let Ok(info) = self.ctx().get_token_info(slot) {
                out.push((slot, info));
            }
        }
        Ok(out)
    }

    /// The one token labelled `label`; when there is none, the error lists
    /// the tokens present, so that a mistyped label is seen at once.
    pub(super) fn find_token(&self, label: &str, purpose: &Purpose) -> Result<Token, TokenError> {
        let tokens = self.tokens()?;
        let mut matching: Vec<(Slot, TokenInfo)> = tokens
            .iter()
            .filter(|(_, i)| i.label().trim_end() == label.trim_end())
            .cloned()
            .collect();
        match matching.len() {
            1 => {
                let (slot, info) = matching.remove(0);
                Ok(Token { slot, info })
            }
            0 => Err(TokenError::TokenNotFound {
                label: label.to_string(),
                module: self.path().to_path_buf(),
                present: tokens
                    .iter()
                    .filter(|(_, i)| i.token_initialized())
                    .map(|(_, i)| format!("{:?}", i.label()))
                    .collect(),
                purpose: purpose.clone(),
            }),
            _ => Err(TokenError::TokenAmbiguous {
                label: label.to_string(),
                serials: matching
                    .iter()
                    .map(|(_, i)| i.serial_number().to_string())
                    .collect(),
                purpose: purpose.clone(),
            }),
        }
    }

    /// The token an archive records: the one labelled `recorded.label`
    /// with the recorded serial (and manufacturer and model). A token with
    /// the label but not the serial is another token, refused before
    /// anything is asked of it; a record without a serial (an archive
    /// written before tokens were pinned) takes the one token with the
    /// label.
    pub(super) fn find_recorded_token(
        &self,
        recorded: &TokenIdentity,
        purpose: &Purpose,
    ) -> Result<Token, TokenError> {
        if recorded.serial.is_empty() {
            return self.find_token(&recorded.label, purpose);
        }
        let tokens = self.tokens()?;
        let same_label: Vec<&(Slot, TokenInfo)> = tokens
            .iter()
            .filter(|(_, i)| i.label().trim_end() == recorded.label.trim_end())
            .collect();
        let mut pinned: Vec<&(Slot, TokenInfo)> = same_label
            .iter()
            .copied()
            .filter(|(_, i)| identity(i).is(recorded))
            .collect();
        match (pinned.len(), same_label.is_empty()) {
            (1, _) => {
                let (slot, info) = pinned.remove(0).clone();
                Ok(Token { slot, info })
            }
            (0, true) => self.find_token(&recorded.label, purpose),
            (0, false) => Err(TokenError::OtherToken {
                recorded: Box::new(recorded.clone()),
                present: same_label.iter().map(|(_, i)| identity(i)).collect(),
                purpose: purpose.clone(),
            }),
            _ => Err(TokenError::TokenAmbiguous {
                label: recorded.label.clone(),
                serials: pinned
                    .iter()
                    .map(|(_, i)| i.serial_number().trim().to_string())
                    .collect(),
                purpose: purpose.clone(),
            }),
        }
    }

    /// Opens a session on `token` and logs the user in: the PIN from
    /// `pin_file`, else typed at the terminal (or on the token's own PIN pad
    /// when it has one). Returns the session and, for keys that want the
    /// PIN again before each signature, the PIN.
    pub(super) fn login(
        &self,
        token: &Token,
        pin_file: Option<&Path>,
        read_write: bool,
    ) -> Result<(Session, Option<Rc<SecretString>>), TokenError> {
        let label = token.label();
        // Refused before asking: a PIN typed at a locked token would only
        // count as one more wrong try.
        if token.info.user_pin_locked() {
            return Err(TokenError::PinLocked {
                label: label.to_string(),
                source: None,
            });
        }
        let session = if read_write {
            self.ctx().open_rw_session(token.slot)
        } else {
            self.ctx().open_ro_session(token.slot)
        }
        .map_err(TokenError::call(format!(
            "cannot open a session on token {label:?}"
        )))?;
        // Another session of this process is logged in already (login is
        // per token, not per session): no second PIN.
        if let Ok(info) = session.get_session_info() {
            if matches!(
                info.session_state(),
                SessionState::RoUser | SessionState::RwUser
            ) {
                return Ok((session, None));
            }
        }
        let pad = token.info.protected_authentication_path() && pin_file.is_none();
        let pin = if pad {
            eprintln!("Enter the PIN of token {label:?} on its PIN pad.");
            None
        } else {
            if token.info.user_pin_final_try() {
                eprintln!(
                    "warning: token {label:?} says one more wrong PIN locks it; check the PIN first"
                );
            } else if token.info.user_pin_count_low() {
                eprintln!(
                    "warning: token {label:?} reports recent wrong PIN tries (its PIN locks after \
                     a few more)"
                );
            }
            Some(Rc::new(read_pin(pin_file, label)?))
        };
        match session.login(UserType::User, pin.as_deref()) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(source @ CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(TokenError::WrongPin {
                    label: label.to_string(),
                    pin_file: pin_file.map(Path::to_path_buf),
                    source,
                })
            }
            Err(source @ CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(TokenError::PinLocked {
                    label: label.to_string(),
                    source: Some(source),
                })
            }
            Err(source @ CkError::Pkcs11(RvError::PinLenRange | RvError::PinInvalid, _)) => {
                return Err(TokenError::PinInvalid {
                    label: label.to_string(),
                    pin_file: pin_file.map(Path::to_path_buf),
                    source,
                })
            }
            Err(source) => {
                return Err(TokenError::Call {
                    action: format!("cannot log in to token {label:?}"),
                    source,
                })
            }
        }
        Ok((session, pin))
    }
}

/// Reads a PIN: the first line of `file`, else typed without echo.
fn read_pin(file: Option<&Path>, token_label: &str) -> Result<SecretString, TokenError> {
    if let Some(path) = file {
        let bytes = Zeroizing::new(
            crate::archive::read_file_bounded(path, MAX_PIN_FILE).map_err(|e| {
                TokenError::PinFileUnreadable {
                    path: path.to_path_buf(),
                    source: e.into(),
                }
            })?,
        );
        let text = std::str::from_utf8(&bytes).map_err(|_| TokenError::PinFileNotText {
            path: path.to_path_buf(),
        })?;
        let line = text.split('\n').next().unwrap_or("");
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            return Err(TokenError::PinFileEmpty {
                path: path.to_path_buf(),
            });
        }
        return Ok(SecretString::from(line.to_owned()));
    }
    let typed = Zeroizing::new(
        crate::interrupt::hidden(
            &format!("PIN of token {token_label:?}: "),
            &format!("the PIN prompt of token {token_label:?}"),
        )
        .map_err(|e| match e {
            PromptError::Aborted(a) => TokenError::Aborted(a),
            PromptError::Io(source) => TokenError::NoTerminal { source },
        })?,
    );
    if typed.is_empty() {
        return Err(TokenError::EmptyPin);
    }
    Ok(SecretString::from(typed.as_str().to_owned()))
}
