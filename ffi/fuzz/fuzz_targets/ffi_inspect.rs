#![no_main]
//! The C ABI's keyless entry points over arbitrary bytes: `pv_inspect` with
//! a too-small and a large output buffer, and `pv_store_from_bundle`.
use libfuzzer_sys::fuzz_target;
use promptvault_ffi::{pv_inspect, pv_result, pv_store, pv_store_free, pv_store_from_bundle};

fuzz_target!(|data: &[u8]| {
    let mut small = [0 as std::ffi::c_char; 8];
    let mut big = vec![0 as std::ffi::c_char; 4096];
    let mut len = 0usize;
    // SAFETY: every pointer is valid for the length passed with it.
    let r = unsafe { pv_inspect(data.as_ptr(), data.len(), small.as_mut_ptr(), small.len(), &mut len) };
    if r == pv_result::BufferTooSmall {
        assert!(len > small.len());
        // SAFETY: as above.
        let r2 = unsafe { pv_inspect(data.as_ptr(), data.len(), big.as_mut_ptr(), big.len(), &mut len) };
        assert_eq!(r2, pv_result::Ok);
        assert_eq!(big[len - 1], 0, "NUL-terminated");
    }
    let mut store: *mut pv_store = std::ptr::null_mut();
    // SAFETY: `data` is valid for its length; `store` is a writable pointer.
    let r = unsafe { pv_store_from_bundle(data.as_ptr(), data.len(), &mut store) };
    assert_eq!(r == pv_result::Ok, !store.is_null());
    // SAFETY: `store` came from the library or is NULL.
    unsafe { pv_store_free(store) };
});
