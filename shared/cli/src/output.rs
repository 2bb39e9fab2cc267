//! Everything the binaries print goes through here, so that no string from
//! a proposal, a root, a bundle, a transcript or a file name can reach the
//! terminal as a raw control or invisible character (see
//! `ceremony::untrusted`). Fields are escaped where they are formatted too;
//! this is the net under them: a text we composed keeps its lines, and only
//! what must never reach a terminal changes.
//!
//! The binaries `use ceremony_cli::{println, print, eprintln, eprint}`, which
//! shadow the standard macros with these. JSON goes through [`print_json`],
//! which escapes the JSON way and so stays valid JSON.

use std::io::Write as _;

use ceremony::untrusted::{escape_json, escape_text};

/// Writes `text` to standard output, escaped (see the module docs).
pub fn out(text: &str) {
    let mut o = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = o.write_all(escape_text(text).as_bytes());
}

/// Writes `text` to standard error, escaped (see the module docs).
pub fn err(text: &str) {
    let _ = std::io::stderr()
        .lock()
        .write_all(escape_text(text).as_bytes());
}

/// Prints `value` as pretty JSON on standard output, every dangerous
/// character inside its strings written as a JSON `\uXXXX` escape.
pub fn print_json(value: &impl serde::Serialize) -> serde_json::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{}", escape_json(&text));
    Ok(())
}

/// `println!`, escaped.
#[macro_export]
macro_rules! println {
    () => { $crate::output::out("\n") };
    ($($arg:tt)*) => { $crate::output::out(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!`, escaped.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::output::out(&format!($($arg)*)) };
}

/// `eprintln!`, escaped.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::output::err("\n") };
    ($($arg:tt)*) => { $crate::output::err(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!`, escaped.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::output::err(&format!($($arg)*)) };
}
