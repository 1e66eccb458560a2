//! The adversarial contract library: one hostile contract per way of making a validator work
//! harder than its gas says. Each case prepares its state (committed, so RocksDB holds it)
//! and then names the one transaction that attacks: a call that loops until its gas runs out,
//! or a deploy. Shared by the `adversarial` benchmark and the runtime's `adversarial` test.
#![allow(dead_code)]

/// Imports and helpers every hostile contract starts with. Memory page 0 is scratch;
/// `$arg` reads the call's input (a little-endian u32) into a local.
const PRELUDE: &str = r#"
  (import "phalanx" "input_read" (func $input (param i32)))
  (import "phalanx" "return_data" (func $ret (param i32 i32)))
  (import "phalanx" "storage_read" (func $sread (param i32 i32 i32 i32) (result i64)))
  (import "phalanx" "storage_write" (func $swrite (param i32 i32 i32 i32)))
  (import "phalanx" "storage_remove" (func $sremove (param i32 i32) (result i32)))
  (import "phalanx" "storage_next" (func $snext (param i32 i32 i32 i32 i32 i32) (result i64)))
  (import "phalanx" "emit" (func $emit (param i32 i32 i32 i32)))
  (import "phalanx" "blake3" (func $blake3 (param i32 i32 i32)))
  (import "phalanx" "ed25519_verify" (func $verify (param i32 i32 i32 i32) (result i32)))
  (import "phalanx" "call" (func $call (param i32 i32 i32 i32 i32) (result i32)))
  (import "phalanx" "result_read" (func $result_read (param i32)))
  (import "phalanx" "result_len" (func $result_len (result i32)))
  (import "phalanx" "gas_left" (func $gas_left (result i64)))
  (func (export "init") (param i32))
  (func $arg (result i32) (call $input (i32.const 0)) (i32.load (i32.const 0)))
"#;

/// A complete module: the prelude, `pages` of initial memory, then `body`.
pub fn module(pages: u32, body: &str) -> Vec<u8> {
    let text = format!("(module {PRELUDE} (memory (export \"memory\") {pages}) {body})");
    wat::parse_str(&text).unwrap_or_else(|e| panic!("adversarial wat: {e}\n{text}"))
}

/// What a case asks of the harness.
pub enum Step {
    /// Deploy this code (init with no arguments); later steps name it by its index.
    Deploy(Vec<u8>),
    /// Call `method` of deployed contract `n` with `args`, in its own committed block.
    Call(usize, &'static str, Vec<u8>),
}

/// The attacking transaction.
pub enum Attack {
    /// Call `method` of deployed contract `n` with `args` (the addresses of deployed contracts
    /// listed in `addresses` are appended to `args`, 32 bytes each).
    Call {
        contract: usize,
        method: &'static str,
        args: Vec<u8>,
        addresses: Vec<usize>,
    },
    /// Deploy this code.
    Deploy(Vec<u8>),
}

/// One way of attacking.
pub struct Case {
    /// Short name for tables.
    pub name: &'static str,
    /// What it does to the validator.
    pub what: &'static str,
    /// Preparation, each step in its own block.
    pub setup: Vec<Step>,
    /// The transaction measured.
    pub attack: Attack,
    /// Module cache capacity to run with (1 forces a load for every new code).
    pub cache_capacity: usize,
}

/// An address index that names no deployed contract.
pub const MISSING: usize = usize::MAX;

/// The input of the `ed25519` case: public key, signature, message.
pub fn signed_input() -> Vec<u8> {
    let key = phalanx_types::SecretKey::from_seed([9; 32]);
    let msg = [0x5a_u8; 64];
    let sig = key.sign(&msg);
    let mut input = key.public_key().0.to_vec();
    input.extend_from_slice(&sig.0);
    input.extend_from_slice(&msg);
    input
}

/// A u32 argument.
pub fn le(n: u32) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

fn call(contract: usize, method: &'static str, args: Vec<u8>) -> Attack {
    Attack::Call {
        contract,
        method,
        args,
        addresses: Vec::new(),
    }
}

/// Spins forever doing `op` on a counter `$i` (an i64) and an accumulator `$a`.
fn spin(op: &str) -> Vec<u8> {
    module(
        1,
        &format!(
            r#"(func (export "attack") (param i32) (local $i i64) (local $a i64) (local $f f64)
                 (local.set $a (i64.const 7)) (local.set $f (f64.const 1.5))
                 (loop $l {op} (local.set $i (i64.add (local.get $i) (i64.const 1))) (br $l)))"#
        ),
    )
}

/// Calls `method` of the contract whose address follows the u32 in the input, forever; with
/// several addresses, round-robin. Failures of the callee are ignored.
fn relay() -> Vec<u8> {
    module(
        1,
        r#"(data (i32.const 512) "run")
           (func (export "attack") (param $len i32) (local $n i32) (local $i i32)
             (call $input (i32.const 1024))
             (local.set $n (i32.div_u (i32.sub (local.get $len) (i32.const 4)) (i32.const 32)))
             (loop $l
               (drop (call $call
                 (i32.add (i32.const 1028) (i32.mul (local.get $i) (i32.const 32)))
                 (i32.const 512) (i32.const 3) (i32.const 1024) (i32.const 4)))
               (local.set $i (i32.rem_u (i32.add (local.get $i) (i32.const 1)) (local.get $n)))
               (br $l)))
           (func (export "once") (param $len i32) (local $n i32) (local $i i32)
             (call $input (i32.const 1024))
             (local.set $n (i32.div_u (i32.sub (local.get $len) (i32.const 4)) (i32.const 32)))
             (loop $l
               (drop (call $call
                 (i32.add (i32.const 1028) (i32.mul (local.get $i) (i32.const 32)))
                 (i32.const 512) (i32.const 3) (i32.const 1024) (i32.const 4)))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))"#,
    )
}

/// A callee whose `run` does `body` once per call, in a module of `pages` initial pages.
fn callee(pages: u32, body: &str) -> Vec<u8> {
    module(
        pages,
        &format!(r#"(func (export "run") (param i32) {body})"#),
    )
}

/// `code` with a custom section naming `salt`: the same module under a new code hash.
fn salted(mut code: Vec<u8>, salt: u32) -> Vec<u8> {
    let name = b"salt";
    let payload = salt.to_le_bytes();
    code.push(0); // custom section id
    code.push((1 + name.len() + payload.len()) as u8);
    code.push(name.len() as u8);
    code.extend_from_slice(name);
    code.extend_from_slice(&payload);
    code
}

/// A callee whose every call grows its memory from one page to `pages` and writes a byte in
/// every 4 KiB of it.
fn grow_and_touch(pages: u32) -> Vec<u8> {
    callee(
        1,
        &format!(
            r#"(local $p i32) (drop (memory.grow (i32.const {})))
               (loop $l (i32.store (local.get $p) (i32.const 1))
                 (local.set $p (i32.add (local.get $p) (i32.const 4096)))
                 (br_if $l (i32.lt_u (local.get $p) (i32.const {}))))"#,
            pages - 1,
            pages * 65536
        ),
    )
}

/// A callee that differs from every other by `salt` (a distinct code hash).
fn salted_callee(salt: u32) -> Vec<u8> {
    module(
        1,
        &format!(
            r#"(data (i32.const 4096) "{salt:08x}")
               (func (export "run") (param i32))"#
        ),
    )
}

/// Writes `$n` keys "k" ++ u32 of `$size` bytes each (`setup`), or removes them (`clear`).
const KEYS: &str = r#"
  (func (export "fill") (param i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.const 64) (i32.const 107))
      (i32.store (i32.const 65) (local.get $i))
      (call $swrite (i32.const 64) (i32.const 5) (i32.const 4096) (i32.const 32))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (call $arg)))))
  (func (export "clear") (param i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.const 64) (i32.const 107))
      (i32.store (i32.const 65) (local.get $i))
      (drop (call $sremove (i32.const 64) (i32.const 5)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (call $arg)))))
  (func $scan (local $len i64)
    (i32.store8 (i32.const 64) (i32.const 107))
    (local.set $len (call $snext (i32.const 64) (i32.const 1) (i32.const 0) (i32.const -1)
      (i32.const 128) (i32.const 512)))
    (loop $l
      (br_if 1 (i64.lt_s (local.get $len) (i64.const 0)))
      (local.set $len (call $snext (i32.const 64) (i32.const 1) (i32.const 132)
        (i32.load (i32.const 128)) (i32.const 128) (i32.const 512)))
      (br $l)))
  (func (export "scan_forever") (param i32) (loop $l (call $scan) (br $l)))
  (func (export "scan_once") (param i32) (call $scan))
  (func (export "remove_absent_then_scan") (param i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.const 64) (i32.const 107))
      (i32.store (i32.const 65) (i32.add (local.get $i) (i32.const 1000000)))
      (drop (call $sremove (i32.const 64) (i32.const 5)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (call $arg))))
    (loop $l (call $scan) (br $l)))
  (func (export "write_remove_then_scan") (param i32) (local $i i32)
    (loop $l
      (i32.store8 (i32.const 64) (i32.const 107))
      (i32.store (i32.const 65) (i32.add (local.get $i) (i32.const 1000000)))
      (call $swrite (i32.const 64) (i32.const 5) (i32.const 4096) (i32.const 8))
      (drop (call $sremove (i32.const 64) (i32.const 5)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (call $arg))))
    (loop $l (call $scan) (br $l)))
"#;

/// A contract that writes (`fill`), removes (`clear`) and iterates (`scan_once`,
/// `scan_forever`) keys "k" ++ u32, the count given as a u32 argument.
pub fn keys_contract() -> Vec<u8> {
    module(2, KEYS)
}

/// Functions whose compilation is as slow as we know how to make it per byte: many locals
/// live across a long chain of dependent operations, `functions` of `statements` each.
fn compile_bomb(functions: usize, statements: usize) -> Vec<u8> {
    let mut body = String::new();
    for i in 0..statements {
        body.push_str(&format!(
            "(local.set {} (i64.mul (local.get {}) (i64.add (local.get {}) (i64.const {i}))))\n",
            i % 500 + 1,
            (i * 7) % 500 + 1,
            (i * 13) % 500 + 1
        ));
    }
    let mut funcs = String::new();
    for f in 0..functions {
        funcs.push_str(&format!(
            "(func (export \"f{f}\") (param i32) (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
               (local {}) {body})\n",
            "i64 ".repeat(490)
        ));
    }
    module(1, &funcs)
}

/// `put` writes key "\0"; `attack` does `first`, then writes new 4-byte keys (from 1,000 on)
/// until the gas is nearly gone, and returns so its changes commit.
fn small_writes(first: &str) -> String {
    format!(
        r#"(func (export "put") (param i32)
             (call $swrite (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)))
           (func (export "attack") (param i32) (local $i i32)
             {first}
             (loop $l (i32.store (i32.const 64) (i32.add (local.get $i) (i32.const 1000)))
               (call $swrite (i32.const 64) (i32.const 4) (i32.const 64) (i32.const 4))
               (local.set $i (i32.add (local.get $i) (i32.const 1)))
               (br_if $l (i64.gt_u (call $gas_left) (i64.const 300000)))))"#
    )
}

/// The address the library uses for "no contract lives here".
pub const MISSING_ADDRESS: phalanx_types::Address = phalanx_types::Address([0x55; 32]);

impl Attack {
    /// The call's input: its arguments, then the 32-byte address of each contract it names,
    /// `deployed` giving the addresses of the setup's contracts in order.
    pub fn input(args: &[u8], addresses: &[usize], deployed: &[phalanx_types::Address]) -> Vec<u8> {
        let mut input = args.to_vec();
        for n in addresses {
            input.extend_from_slice(&address_of(*n, deployed).0);
        }
        input
    }
}

/// The address of setup contract `n` ([`MISSING`] names none).
pub fn address_of(n: usize, deployed: &[phalanx_types::Address]) -> phalanx_types::Address {
    if n == MISSING {
        MISSING_ADDRESS
    } else {
        deployed[n]
    }
}

/// Cases that stop just before their gas runs out, so their writes commit (and the state
/// root is computed over them).
pub const COMMITTING: &[&str] = &["write small", "write small + delete", "write 128 KiB"];

/// The library.
pub fn cases() -> Vec<Case> {
    let one = |name, what, code: Vec<u8>, method, args: Vec<u8>| Case {
        name,
        what,
        setup: vec![Step::Deploy(code)],
        attack: call(0, method, args),
        cache_capacity: 256,
    };
    // An empty target means an address where no contract lives.
    let relayed = |name, what, target: Vec<u8>| {
        let missing = target.is_empty();
        let mut setup = vec![Step::Deploy(relay())];
        if !missing {
            setup.push(Step::Deploy(target));
        }
        Case {
            name,
            what,
            setup,
            attack: Attack::Call {
                contract: 0,
                method: "attack",
                args: le(0),
                addresses: vec![if missing { MISSING } else { 1 }],
            },
            cache_capacity: 256,
        }
    };
    let keys = keys_contract;
    let mut cases = vec![
        one(
            "cpu add/mul",
            "integer arithmetic",
            spin("(local.set $a (i64.add (i64.mul (local.get $a) (local.get $i)) (i64.const 3)))"),
            "attack",
            vec![],
        ),
        one(
            "cpu div/rem",
            "64-bit division, the slowest integer operator",
            spin(
                "(local.set $a (i64.add (i64.div_u (i64.const -1) (i64.or (local.get $i) (i64.const 1))) (i64.rem_u (local.get $a) (i64.or (local.get $i) (i64.const 3)))))",
            ),
            "attack",
            vec![],
        ),
        one(
            "cpu float",
            "f64 sqrt and division",
            spin(
                "(local.set $f (f64.add (f64.sqrt (local.get $f)) (f64.div (local.get $f) (f64.const 3.7))))",
            ),
            "attack",
            vec![],
        ),
        one(
            "memory random",
            "dependent loads spread over 16 MiB (cache misses)",
            module(
                256,
                r#"
            (func (export "attack") (param i32) (local $p i32)
              (loop $l
                (local.set $p (i32.and (i32.add (i32.mul (local.get $p) (i32.const 1103515245)) (i32.load (local.get $p))) (i32.const 0xfffff8)))
                (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "memory.fill",
            "bulk fill of the whole memory",
            module(
                256,
                r#"
            (func (export "attack") (param i32)
              (loop $l (memory.fill (i32.const 0) (i32.const 7) (i32.const 16777216)) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "memory.copy",
            "bulk copy of half the memory",
            module(
                256,
                r#"
            (func (export "attack") (param i32)
              (loop $l (memory.copy (i32.const 0) (i32.const 8388608) (i32.const 8388608)) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "call_indirect",
            "indirect calls through a table",
            module(
                1,
                r#"
            (type $t (func (param i64) (result i64)))
            (table 2 funcref) (elem (i32.const 0) $a $b)
            (func $a (param i64) (result i64) (i64.add (local.get 0) (i64.const 1)))
            (func $b (param i64) (result i64) (i64.mul (local.get 0) (i64.const 3)))
            (func (export "attack") (param i32) (local $i i64)
              (loop $l (local.set $i (call_indirect (type $t) (local.get $i) (i32.wrap_i64 (i64.and (local.get $i) (i64.const 1))))) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "host gas_left",
            "the cheapest host call",
            module(
                1,
                r#"
            (func (export "attack") (param i32) (loop $l (drop (call $gas_left)) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "read missing",
            "storage reads of keys that do not exist",
            module(
                1,
                r#"
            (func (export "attack") (param i32) (local $i i32)
              (loop $l (i32.store (i32.const 64) (local.get $i))
                (drop (call $sread (i32.const 64) (i32.const 4) (i32.const 128) (i32.const 0)))
                (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        Case {
            name: "read 128 KiB",
            what: "storage reads of the largest value",
            setup: vec![
                Step::Deploy(module(
                    4,
                    r#"
                (func (export "put") (param i32) (call $swrite (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 131072)))
                (func (export "attack") (param i32)
                  (loop $l (drop (call $sread (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 131072))) (br $l)))"#,
                )),
                Step::Call(0, "put", vec![]),
            ],
            attack: call(0, "attack", vec![]),
            cache_capacity: 256,
        },
        one(
            "write small",
            "storage writes of new small keys",
            module(1, &small_writes("")),
            "attack",
            vec![],
        ),
        Case {
            name: "write small + delete",
            what: "new small keys and one committed key deleted: the state root goes key by key",
            setup: vec![
                Step::Deploy(module(
                    1,
                    &small_writes("(drop (call $sremove (i32.const 0) (i32.const 1)))"),
                )),
                Step::Call(0, "put", vec![]),
            ],
            attack: call(0, "attack", vec![]),
            cache_capacity: 256,
        },
        one(
            "write 128 KiB",
            "storage writes of the largest value",
            module(
                4,
                r#"
            (func (export "attack") (param i32) (local $i i32)
              (loop $l (i32.store (i32.const 0) (local.get $i))
                (call $swrite (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 131072))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i64.gt_u (call $gas_left) (i64.const 5000000)))))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "remove absent + next",
            "the reported case: tombstones for absent keys, then iteration",
            keys(),
            "remove_absent_then_scan",
            le(1000),
        ),
        one(
            "write+remove + next",
            "keys created and deleted in the transaction, then iteration",
            keys(),
            "write_remove_then_scan",
            le(1000),
        ),
        Case {
            name: "next over live keys",
            what: "iterating 2,000 committed keys",
            setup: vec![Step::Deploy(keys()), Step::Call(0, "fill", le(2_000))],
            attack: call(0, "scan_forever", vec![]),
            cache_capacity: 256,
        },
        Case {
            name: "next over deletions",
            what: "iterating a range whose 2,000 keys were deleted in an earlier block",
            setup: vec![
                Step::Deploy(keys()),
                Step::Call(0, "fill", le(2_000)),
                Step::Call(0, "clear", le(2_000)),
            ],
            attack: call(0, "scan_forever", vec![]),
            cache_capacity: 256,
        },
        one(
            "emit max",
            "256 events of 16 KiB (the per-transaction cap)",
            module(
                1,
                r#"
            (func (export "attack") (param i32)
              (loop $l (call $emit (i32.const 0) (i32.const 64) (i32.const 0) (i32.const 16384)) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "blake3 256 KiB",
            "hashing the largest input",
            module(
                5,
                r#"
            (func (export "attack") (param i32)
              (loop $l (call $blake3 (i32.const 0) (i32.const 262144) (i32.const 300000)) (br $l)))"#,
            ),
            "attack",
            vec![],
        ),
        one(
            "ed25519",
            "signature checks of a valid signature",
            module(
                1,
                r#"
            (func (export "attack") (param $len i32)
              (call $input (i32.const 0))
              (loop $l (drop (call $verify (i32.const 0) (i32.const 96) (i32.sub (local.get $len) (i32.const 96)) (i32.const 32))) (br $l)))"#,
            ),
            "attack",
            signed_input(),
        ),
        relayed(
            "call missing",
            "cross-contract calls to an address with no contract",
            Vec::new(),
        ),
        relayed(
            "call empty",
            "cross-contract calls of an empty method",
            callee(1, ""),
        ),
        relayed(
            "call 256-page instance",
            "calls into a contract that starts with 16 MiB of memory",
            callee(256, ""),
        ),
        relayed(
            "grow + touch",
            "each call grows to 16 MiB and writes every 4 KiB page",
            grow_and_touch(256),
        ),
        relayed(
            "grow 2 MiB + touch",
            "each call grows within the resident 2 MiB and writes every 4 KiB page",
            grow_and_touch(32),
        ),
        relayed(
            "call data-heavy instance",
            "calls into a contract with 600 KB of data segments",
            module(
                1,
                &format!(
                    r#"(data (i32.const 0) "{}") (func (export "run") (param i32))"#,
                    "\\ff".repeat(60_000)
                ),
            ),
        ),
        relayed(
            "deep recursion",
            "each call recurses to the stack limit",
            module(
                1,
                r#"
            (func $down (param i64) (result i64) (i64.add (call $down (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
            (func (export "run") (param i32) (drop (call $down (i64.const 0))))"#,
            ),
        ),
        relayed(
            "return 256 KiB",
            "calls returning the largest result, read back",
            callee(5, "(call $ret (i32.const 0) (i32.const 262144))"),
        ),
        Case {
            name: "deploy many functions",
            what: "deploying 24 functions of 500 live locals (slow to compile)",
            setup: Vec::new(),
            attack: Attack::Deploy(compile_bomb(24, 2_000)),
            cache_capacity: 256,
        },
        Case {
            name: "deploy big functions",
            what: "deploying 3 functions at the body-size limit",
            setup: Vec::new(),
            attack: Attack::Deploy(compile_bomb(3, 18_000)),
            cache_capacity: 256,
        },
    ];
    // Loading big codes: 6 distinct modules of ~170 KB of code each, through a cache of one.
    let mut setup = vec![Step::Deploy(relay())];
    setup.extend((0..6).map(|i| Step::Deploy(salted(compile_bomb(2, 6_000), i))));
    cases.push(Case {
        name: "big code misses",
        what: "one call each of 6 distinct 170 KB codes through a module cache of one",
        setup,
        attack: Attack::Call {
            contract: 0,
            method: "once",
            args: le(0),
            addresses: (1..=6).collect(),
        },
        cache_capacity: 1,
    });
    // Code-cache misses: 64 distinct codes (the per-transaction maximum) with a cache of one.
    let mut setup = vec![Step::Deploy(relay())];
    setup.extend((0..64).map(|i| Step::Deploy(salted_callee(i))));
    cases.push(Case {
        name: "code misses",
        what: "one call each of 64 distinct small codes through a module cache of one",
        setup,
        attack: Attack::Call {
            contract: 0,
            method: "once",
            args: le(0),
            addresses: (1..=64).collect(),
        },
        cache_capacity: 1,
    });
    cases
}
