//! Contract errors: a stable code and a message, recorded in the failed call's receipt.

use alloc::string::{String, ToString};
use core::fmt;

/// The error a contract method fails with.
///
/// Codes below [`ContractError::SDK_MIN`] belong to the host; the SDK uses 1000–1099
/// ([`GENERIC`](Self::GENERIC), [`BAD_ARGS`](Self::BAD_ARGS), [`PANIC`](Self::PANIC)); contracts
/// choose codes from [`ContractError::USER_MIN`] up, typically with [`errors!`](crate::errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError {
    /// Stable error code.
    pub code: u32,
    /// Human-readable message (at most 512 bytes reach the receipt).
    pub message: String,
}

impl ContractError {
    /// Smallest code a contract may abort with.
    pub const SDK_MIN: u32 = phalanx_abi::code::CONTRACT_MIN;
    /// A failure with only a message.
    pub const GENERIC: u32 = 1000;
    /// The arguments were not valid JSON for the method's parameters.
    pub const BAD_ARGS: u32 = 1001;
    /// The contract panicked.
    pub const PANIC: u32 = 1002;
    /// The first code free for contracts' own errors.
    pub const USER_MIN: u32 = 1100;

    /// An error with `code` and `message`. Codes below [`Self::SDK_MIN`] become [`Self::GENERIC`].
    pub fn new(code: u32, message: impl Into<String>) -> ContractError {
        ContractError {
            code: if code < Self::SDK_MIN {
                Self::GENERIC
            } else {
                code
            },
            message: message.into(),
        }
    }

    /// A [`GENERIC`](Self::GENERIC) error with a message.
    pub fn msg(message: impl Into<String>) -> ContractError {
        ContractError::new(Self::GENERIC, message)
    }

    pub(crate) fn bad_args(err: &impl fmt::Display) -> ContractError {
        ContractError::new(Self::BAD_ARGS, alloc::format!("invalid arguments: {err}"))
    }
}

impl ContractError {
    /// True if this is `err` (same code): `result.unwrap_err().is(TokenError::Overflow)`.
    pub fn is(&self, err: impl Into<ContractError>) -> bool {
        self.code == err.into().code
    }

    /// The ABI entries of the SDK's own errors (the first of every ABI's `errors`).
    #[doc(hidden)]
    pub const ABI: &'static [crate::abi::Part] = {
        use crate::abi::Part::{Num, Raw};
        &[
            Raw("{\"name\":\"Generic\",\"code\":"),
            Num(Self::GENERIC),
            Raw(",\"message\":\"a failure with only a message\"},{\"name\":\"BadArgs\",\"code\":"),
            Num(Self::BAD_ARGS),
            Raw(
                ",\"message\":\"the arguments were not valid JSON for the method's parameters\"},{\"name\":\"Panic\",\"code\":",
            ),
            Num(Self::PANIC),
            Raw(",\"message\":\"the contract panicked\"}"),
        ]
    };
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", self.code, self.message)
    }
}

impl From<&str> for ContractError {
    fn from(message: &str) -> Self {
        ContractError::msg(message.to_string())
    }
}

impl From<String> for ContractError {
    fn from(message: String) -> Self {
        ContractError::msg(message)
    }
}

/// Declares a contract's error enum with a stable code and message per variant, convertible
/// into [`ContractError`] (so `?` works in methods returning `Result<_, ContractError>`).
///
/// ```
/// phalanx_sdk::errors! {
///     /// Token errors.
///     pub enum TokenError {
///         /// Not enough balance.
///         InsufficientBalance = 1100 => "insufficient balance",
///         /// Not enough allowance.
///         InsufficientAllowance = 1101 => "insufficient allowance",
///     }
/// }
/// let e: phalanx_sdk::ContractError = TokenError::InsufficientBalance.into();
/// assert_eq!((e.code, e.message.as_str()), (1100, "insufficient balance"));
/// ```
#[macro_export]
macro_rules! errors {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $code:literal => $msg:literal),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            /// The stable code of this error.
            pub const fn code(self) -> u32 {
                match self { $(Self::$variant => $code),* }
            }
            /// The message of this error.
            pub const fn message(self) -> &'static str {
                match self { $(Self::$variant => $msg),* }
            }
            /// The variant with this code, if any (to turn a receipt's code back into a type).
            pub const fn from_code(code: u32) -> ::core::option::Option<Self> {
                $(if code == $code { return ::core::option::Option::Some(Self::$variant); })*
                ::core::option::Option::None
            }
            /// The ABI entries of these errors, each preceded by a comma (they follow the SDK's
            /// own errors in the ABI's `errors` array).
            #[doc(hidden)]
            pub const ABI: &'static [$crate::abi::Part] = &[
                $(
                    $crate::abi::Part::Raw(",{\"name\":"),
                    $crate::abi::Part::Str(::core::stringify!($variant)),
                    $crate::abi::Part::Raw(",\"code\":"),
                    $crate::abi::Part::Num($code),
                    $crate::abi::Part::Raw(",\"message\":"),
                    $crate::abi::Part::Str($msg),
                    $crate::abi::Part::Raw("}"),
                )*
            ];
        }

        const _: () = { $(assert!($code >= $crate::ContractError::USER_MIN, "contract error codes start at 1100");)* };

        impl ::core::convert::From<$name> for $crate::ContractError {
            fn from(e: $name) -> Self {
                $crate::ContractError::new(e.code(), e.message())
            }
        }
    };
}

/// Returns `Err(err.into())` from the enclosing method unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $err:expr $(,)?) => {
        if !$cond {
            return ::core::result::Result::Err(::core::convert::Into::into($err));
        }
    };
}
