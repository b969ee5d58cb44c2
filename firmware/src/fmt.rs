//! Logging macros for the board programs: [`trace!`](crate::trace), [`debug!`](crate::debug),
//! [`info!`](crate::info), [`warn!`](crate::warn) and [`error!`](crate::error).
//!
//! A feature of this crate picks where every message goes:
//!
//! | feature       | output                                                                |
//! | ------------- | --------------------------------------------------------------------- |
//! | `defmt`       | the `defmt` macro of the same name, filtered by `DEFMT_LOG` at build  |
//! | `semihosting` | one text line on the debug host's standard error, `info` and above   |
//! | neither       | nothing                                                               |
//!
//! `defmt` wins when both are on, so `--all-features` still builds. With `defmt`, the calling
//! crate must depend on `defmt` itself and link a transport such as `defmt-rtt`, because the
//! `defmt` macros name their crate by its absolute path.
//!
//! Write format strings that both `defmt` and `core::fmt` accept: plain `{}` and `{:?}`
//! placeholders, with arguments that implement `defmt::Format` and `core::fmt::Display` (or
//! `Debug`). Without an output the arguments are still borrowed once, so a variable used only
//! in a log message does not raise an unused warning.
//!
//! The semihosting output stops the core on every message until the debugger or QEMU has
//! handled it, so it suits QEMU and tests, not timing-sensitive code on a board.

#[cfg(all(feature = "semihosting", not(feature = "defmt")))]
#[doc(hidden)]
pub use cortex_m_semihosting as __semihosting;

/// Defines one logging macro for each output, selected by the features of this crate.
macro_rules! define_level {
    // `$dollar` smuggles a literal `$` into the generated macro_rules.
    ($dollar:tt $name:ident, $label:literal, $text:tt) => {
        #[cfg(feature = "defmt")]
        #[doc = concat!("Logs a message at level `", stringify!($name), "`; see the `fmt` module.")]
        #[macro_export]
        macro_rules! $name {
            ($dollar($dollar arg:tt)*) => {
                ::defmt::$name!($dollar($dollar arg)*)
            };
        }

        #[cfg(all(feature = "semihosting", not(feature = "defmt")))]
        define_level!(@text $dollar $name, $label, $text);

        #[cfg(not(any(feature = "defmt", feature = "semihosting")))]
        define_level!(@silent $dollar $name);
    };

    (@text $dollar:tt $name:ident, $label:literal, true) => {
        #[doc = concat!("Logs a message at level `", stringify!($name), "`; see the `fmt` module.")]
        #[macro_export]
        macro_rules! $name {
            ($dollar format:literal $dollar(, $dollar arg:expr)* $dollar(,)?) => {
                $crate::fmt::__semihosting::heprintln!(
                    "{} {}",
                    $label,
                    ::core::format_args!($dollar format $dollar(, $dollar arg)*)
                )
            };
        }
    };

    // Levels below `info` print nothing in text, like `defmt` with its default filter.
    (@text $dollar:tt $name:ident, $label:literal, false) => {
        define_level!(@silent $dollar $name);
    };

    (@silent $dollar:tt $name:ident) => {
        #[doc = concat!("Logs a message at level `", stringify!($name), "`; see the `fmt` module.")]
        #[macro_export]
        macro_rules! $name {
            ($dollar format:literal $dollar(, $dollar arg:expr)* $dollar(,)?) => {{
                let _ = ($dollar(&$dollar arg),*);
            }};
        }
    };
}

define_level!($ trace, "TRACE", false);
define_level!($ debug, "DEBUG", false);
define_level!($ info, "INFO ", true);
define_level!($ warn, "WARN ", true);
define_level!($ error, "ERROR", true);
