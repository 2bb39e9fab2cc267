//! What the machine and the program look like, for the transcript's first
//! entry. Read from /proc, /sys and the running binary, so the signer needs
//! no network code to know whether it is offline.

use ceremony::transcript::event::{Interface, Machine, Software};

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
