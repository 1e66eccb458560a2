//! Links the contract with a 64 KiB wasm stack instead of Rust's default 1 MiB: the module's
//! initial memory shrinks from 17 pages to 2, so each call's fresh instance has less memory to
//! set up and reset. An overflow still traps (the stack sits below the data, at address 0).
fn main() {
    println!("cargo:rustc-link-arg=-zstack-size=65536");
}
