//! `submitter`: the online half of a TUF root-key ceremony (see the library
//! half, `src/lib.rs`, for what it does and how).

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    submitter::main()
}
