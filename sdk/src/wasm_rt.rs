//! What a `#![no_std]` contract needs on wasm32: an allocator and a panic handler.
//!
//! Every call runs in a fresh instance, so memory never needs to be freed: a bump allocator
//! is the smallest and fastest choice. Memory grows a page at a time up to the host's limit;
//! running out aborts the call.

#![allow(unsafe_code)]

use crate::error::ContractError;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// First byte after the stack and static data (defined by wasm-ld).
    static __heap_base: u8;
}

struct Bump {
    next: Cell<usize>,
    end: Cell<usize>,
}

// SAFETY: wasm32-unknown-unknown contracts are single-threaded (threads are disabled in the
// engine), so the cells are never accessed concurrently.
unsafe impl Sync for Bump {}

#[global_allocator]
static ALLOC: Bump = Bump {
    next: Cell::new(0),
    end: Cell::new(0),
};

unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if self.end.get() == 0 {
            // The heap starts where the linker put it, after the stack and static data; the
            // rest of the initial memory is used before any page is grown.
            // `__heap_base` is a linker-defined symbol; only its address is taken.
            let base = core::ptr::addr_of!(__heap_base) as usize;
            self.next.set(base);
            self.end.set(core::arch::wasm32::memory_size(0) * PAGE);
        }
        let align = layout.align();
        let Some(start) = self
            .next
            .get()
            .checked_add(align - 1)
            .map(|p| p & !(align - 1))
        else {
            return core::ptr::null_mut();
        };
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if end > self.end.get() {
            let pages = (end - self.end.get()).div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            self.end.set(self.end.get() + pages * PAGE);
        }
        self.next.set(end);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Grow the most recent allocation in place (the common case for a growing Vec).
        if ptr as usize + layout.size() == self.next.get() && new_size >= layout.size() {
            let extra = new_size - layout.size();
            let probe = unsafe { Layout::from_size_align_unchecked(extra, 1) };
            let saved = self.next.get();
            let got = unsafe { self.alloc(probe) };
            if got as usize == saved {
                return ptr;
            }
            if got.is_null() {
                return core::ptr::null_mut();
            }
            self.next.set(saved);
        }
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both regions are valid for the smaller size and do not overlap (the new
            // one was bumped past the old one).
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let message = info.message().as_str().unwrap_or("contract panicked");
    crate::env::abort(&ContractError {
        code: ContractError::PANIC,
        message: alloc::string::String::from(message),
    })
}
