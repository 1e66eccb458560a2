//! Safe wrappers over the raw host imports. Natively (outside wasm) every function panics:
//! contracts run only inside the Phalanx runtime, and native tests use `testing`.

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod imp {
    use phalanx_abi::sys;

    // SAFETY (whole module): each import only reads or writes guest memory inside the
    // (pointer, length) ranges passed here, which come from live Rust slices or arrays of at
    // least that length; the host checks every range again and traps on misuse.

    pub fn input_read(buf: &mut [u8]) {
        unsafe { sys::input_read(buf.as_mut_ptr() as i32) }
    }
    pub fn return_data(data: &[u8]) {
        unsafe { sys::return_data(data.as_ptr() as i32, data.len() as i32) }
    }
    pub fn abort(code: u32, msg: &[u8]) -> ! {
        unsafe { sys::abort(code as i32, msg.as_ptr() as i32, msg.len() as i32) };
        core::arch::wasm32::unreachable()
    }
    pub fn storage_read(key: &[u8], out: &mut [u8]) -> i64 {
        unsafe {
            sys::storage_read(
                key.as_ptr() as i32,
                key.len() as i32,
                out.as_mut_ptr() as i32,
                out.len() as i32,
            )
        }
    }
    pub fn storage_write(key: &[u8], value: &[u8]) {
        unsafe {
            sys::storage_write(
                key.as_ptr() as i32,
                key.len() as i32,
                value.as_ptr() as i32,
                value.len() as i32,
            )
        }
    }
    pub fn storage_remove(key: &[u8]) -> bool {
        unsafe { sys::storage_remove(key.as_ptr() as i32, key.len() as i32) == 1 }
    }
    pub fn storage_next(prefix: &[u8], after: Option<&[u8]>, out: &mut [u8]) -> i64 {
        let (ap, al) = match after {
            Some(a) => (a.as_ptr() as i32, a.len() as i32),
            None => (0, -1),
        };
        unsafe {
            sys::storage_next(
                prefix.as_ptr() as i32,
                prefix.len() as i32,
                ap,
                al,
                out.as_mut_ptr() as i32,
                out.len() as i32,
            )
        }
    }
    pub fn caller(out: &mut [u8; 32]) {
        unsafe { sys::caller(out.as_mut_ptr() as i32) }
    }
    pub fn self_address(out: &mut [u8; 32]) {
        unsafe { sys::self_address(out.as_mut_ptr() as i32) }
    }
    pub fn origin(out: &mut [u8; 32]) {
        unsafe { sys::origin(out.as_mut_ptr() as i32) }
    }
    pub fn block_height() -> u64 {
        unsafe { sys::block_height() as u64 }
    }
    pub fn block_time() -> u64 {
        unsafe { sys::block_time() as u64 }
    }
    pub fn chain_id(out: &mut [u8]) -> usize {
        unsafe { sys::chain_id(out.as_mut_ptr() as i32, out.len() as i32) as usize }
    }
    pub fn emit(topic: &[u8], data: &[u8]) {
        unsafe {
            sys::emit(
                topic.as_ptr() as i32,
                topic.len() as i32,
                data.as_ptr() as i32,
                data.len() as i32,
            )
        }
    }
    pub fn blake3(data: &[u8], out: &mut [u8; 32]) {
        unsafe {
            sys::blake3(
                data.as_ptr() as i32,
                data.len() as i32,
                out.as_mut_ptr() as i32,
            )
        }
    }
    pub fn ed25519_verify(pk: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
        unsafe {
            sys::ed25519_verify(
                pk.as_ptr() as i32,
                msg.as_ptr() as i32,
                msg.len() as i32,
                sig.as_ptr() as i32,
            ) == 1
        }
    }
    pub fn call(contract: &[u8; 32], method: &[u8], args: &[u8]) -> bool {
        unsafe {
            sys::call(
                contract.as_ptr() as i32,
                method.as_ptr() as i32,
                method.len() as i32,
                args.as_ptr() as i32,
                args.len() as i32,
            ) == 0
        }
    }
    pub fn result_len() -> usize {
        unsafe { sys::result_len() as u32 as usize }
    }
    pub fn result_read(out: &mut [u8]) {
        unsafe { sys::result_read(out.as_mut_ptr() as i32) }
    }
    pub fn gas_left() -> u64 {
        unsafe { sys::gas_left() as u64 }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[allow(missing_docs, clippy::missing_panics_doc)]
mod imp {
    fn native() -> ! {
        panic!(
            "phalanx contracts run inside the Phalanx runtime; test them with phalanx_sdk::testing"
        )
    }
    pub fn input_read(_: &mut [u8]) {
        native()
    }
    pub fn return_data(_: &[u8]) {
        native()
    }
    pub fn abort(_: u32, _: &[u8]) -> ! {
        native()
    }
    pub fn storage_read(_: &[u8], _: &mut [u8]) -> i64 {
        native()
    }
    pub fn storage_write(_: &[u8], _: &[u8]) {
        native()
    }
    pub fn storage_remove(_: &[u8]) -> bool {
        native()
    }
    pub fn storage_next(_: &[u8], _: Option<&[u8]>, _: &mut [u8]) -> i64 {
        native()
    }
    pub fn caller(_: &mut [u8; 32]) {
        native()
    }
    pub fn self_address(_: &mut [u8; 32]) {
        native()
    }
    pub fn origin(_: &mut [u8; 32]) {
        native()
    }
    pub fn block_height() -> u64 {
        native()
    }
    pub fn block_time() -> u64 {
        native()
    }
    pub fn chain_id(_: &mut [u8]) -> usize {
        native()
    }
    pub fn emit(_: &[u8], _: &[u8]) {
        native()
    }
    pub fn blake3(_: &[u8], _: &mut [u8; 32]) {
        native()
    }
    pub fn ed25519_verify(_: &[u8; 32], _: &[u8], _: &[u8; 64]) -> bool {
        native()
    }
    pub fn call(_: &[u8; 32], _: &[u8], _: &[u8]) -> bool {
        native()
    }
    pub fn result_len() -> usize {
        native()
    }
    pub fn result_read(_: &mut [u8]) {
        native()
    }
    pub fn gas_left() -> u64 {
        native()
    }
}

pub(crate) use imp::*;
