//! What the machine and the program look like, for the transcript's first
//! entry, and the refusal to open root keys on a networked machine. Read
//! from /proc, /sys and the running binary, so the signer needs no network
//! code to know whether it is offline.

use ceremony::transcript::event::{Interface, Machine, Rehearsal, Software};

use crate::VerificationFailed;

/// The environment variable that declares a run a rehearsal, as
/// `--rehearsal` does (and recorded as such): for test suites, which run
/// the signer on their networked machine through one command builder.
pub(crate) const REHEARSAL_ENV: &str = "TUF_CEREMONY_REHEARSAL";

/// Whether the signer may run on a networked machine: by default it may
/// not (a command that opens root keys refuses while any interface but
/// loopback is up).
#[derive(clap::Args, Clone, Debug, Default)]
pub(crate) struct NetworkArgs {
    /// Run although a network interface other than loopback is up: a rehearsal with keys that
    /// guard nothing, never a real ceremony. The transcript records it and the screen says
    /// REHEARSAL. (TUF_CEREMONY_REHEARSAL=1 in the environment does the same.)
    #[arg(long)]
    pub(crate) rehearsal: bool,
    /// Refusing on a networked machine is the default now: kept so that older scripts run.
    /// It also overrides TUF_CEREMONY_REHEARSAL.
    #[arg(long, hide = true, conflicts_with = "rehearsal")]
    pub(crate) require_offline: bool,
}

impl NetworkArgs {
    /// How the run was declared a rehearsal, if it was: `--require-offline`
    /// (the old spelling of the default) wins over the environment.
    pub(crate) fn rehearsal(&self) -> Option<Rehearsal> {
        if self.rehearsal {
            Some(Rehearsal::Flag)
        } else if !self.require_offline && std::env::var_os(REHEARSAL_ENV).is_some_and(|v| v == "1")
        {
            Some(Rehearsal::Environment)
        } else {
            None
        }
    }
}

/// What `signer COMMAND` may do here: refused (exit 3, naming the
/// interfaces that are up and the flag) while an interface other than
/// loopback is up, unless the run is a rehearsal; else the machine's state
/// for the transcript, with the rehearsal recorded. Called before anything
/// is read, asked or made.
pub(crate) fn require_offline(
    args: &NetworkArgs,
    command: &str,
) -> Result<Machine, VerificationFailed> {
    let mut machine = machine_state();
    machine.rehearsal = args.rehearsal();
    let up = interfaces_up(&machine);
    if !up.is_empty() && machine.rehearsal.is_none() {
        return Err(VerificationFailed(format!(
            "network interface(s) {} are up: `signer {command}` opens root keys, and runs only on a \
             machine with no network. Disconnect it (or boot the offline OS) and run again. For a \
             rehearsal with keys that guard nothing, add --rehearsal (a ceremony's transcript records it). \
             Nothing was read or written",
            up.join(", ")
        )));
    }
    if let Some(how) = machine.rehearsal {
        ceremony_cli::eprintln!("{}", rehearsal_banner(how, &up));
    }
    Ok(machine)
}

/// The line that says a run is a rehearsal, at its start and its end.
pub(crate) fn rehearsal_banner(how: Rehearsal, up: &[String]) -> String {
    let by = match how {
        Rehearsal::Flag => "--rehearsal",
        Rehearsal::Environment => "TUF_CEREMONY_REHEARSAL=1",
    };
    let network = if up.is_empty() {
        "no network interface but loopback is up".to_string()
    } else {
        format!("network interface(s) {} are up", up.join(", "))
    };
    format!(
        "REHEARSAL ({by}; {network}): not a key ceremony; keys used here must guard nothing real."
    )
}

/// Network interfaces (and whether any but loopback is up) and swap.
pub(crate) fn machine_state() -> Machine {
    let mut interfaces = Vec::new();
    let mut online = false;
    // Interface names come from /proc/self/net/dev, which always shows this
    // process's network namespace; /sys/class/net shows the namespace that
    // mounted /sys, which under a bare `unshare -n` is the host's.
    let mut names: Vec<String> = std::fs::read_to_string("/proc/self/net/dev")
        .map(|t| {
            t.lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        if let Ok(dir) = std::fs::read_dir("/sys/class/net") {
            names = dir
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect();
        }
    }
    names.sort();
    for name in names {
        let state = std::fs::read_to_string(format!("/sys/class/net/{name}/operstate"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        if name != "lo" && is_up(&state) {
            online = true;
        }
        interfaces.push(Interface { name, state });
    }
    let swaps: Vec<String> = std::fs::read_to_string("/proc/swaps")
        .map(|s| {
            s.lines()
                .skip(1)
                .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    Machine {
        interfaces,
        non_loopback_interface_up: online,
        swap_on: !swaps.is_empty(),
        swap_devices: swaps,
        rehearsal: None,
    }
}

/// Whether an `operstate` may carry traffic: `unknown` counts, since
/// virtual and some wireless interfaces report it while up.
pub(crate) fn is_up(state: &str) -> bool {
    state == "up" || state == "unknown"
}

/// The interfaces other than loopback that may carry traffic.
pub(crate) fn interfaces_up(machine: &Machine) -> Vec<String> {
    machine
        .interfaces
        .iter()
        .filter(|i| i.name != "lo" && is_up(&i.state))
        .map(|i| i.name.clone())
        .collect()
}

/// The running binary's identity: name, version and sha256 of its file.
pub(crate) fn software_identity(name: &str, version: &str) -> Software {
    // Bounded like every read; no signer binary comes near the limit.
    let digest = std::env::current_exe()
        .map_err(|e| e.to_string())
        .and_then(|p| ceremony::fsio::read_bounded(&p, 1 << 30).map_err(|e| e.to_string()))
        .map(|b| ceremony::sha256::hex(&b))
        .unwrap_or_else(|e| format!("unreadable: {e}"));
    Software {
        name: name.into(),
        version: version.into(),
        binary_sha256: digest,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn machine_state_reports_interfaces() {
        let m = super::machine_state();
        assert_eq!(m.swap_on, !m.swap_devices.is_empty());
    }
}
