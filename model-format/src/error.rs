//! The error type of the reader and the writer.

use core::fmt;

/// Reason a model file was rejected, or a spec could not be written.
///
/// Offsets count bytes from the start of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FormatError {
    /// The file does not start with [`MAGIC`](crate::MAGIC).
    BadMagic,
    /// The file has a format version other than [`VERSION`](crate::VERSION).
    UnsupportedVersion {
        /// Version found in the header.
        version: u16,
    },
    /// The file, or its declared payload, ends before the data it must contain.
    Truncated {
        /// Number of bytes needed from the start of the file.
        needed: usize,
        /// Number of bytes available.
        available: usize,
    },
    /// Bytes follow the end of the data.
    TrailingBytes {
        /// Offset of the first unexpected byte.
        offset: usize,
    },
    /// The payload's CRC-32 differs from the one in the header.
    ChecksumMismatch {
        /// CRC-32 stored in the header.
        expected: u32,
        /// CRC-32 of the payload as read.
        actual: u32,
    },
    /// A count or size lies outside the range the crate's limits allow.
    LimitExceeded {
        /// Name of the field.
        field: &'static str,
        /// Value found.
        value: usize,
        /// Smallest value allowed.
        min: usize,
        /// Largest value allowed.
        max: usize,
    },
    /// A layer record is inconsistent with itself or with the tensor it reads.
    InvalidLayer {
        /// Index of the layer, counting from 0.
        index: usize,
        /// Description of the problem.
        reason: &'static str,
    },
    /// A field outside the layers has a value the format does not allow.
    InvalidValue {
        /// Name of the field.
        field: &'static str,
        /// Offset of the field.
        offset: usize,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormatError::BadMagic => write!(f, "not a GenKSC model file (bad magic)"),
            FormatError::UnsupportedVersion { version } => write!(
                f,
                "unsupported model format version {version}, expected {}",
                crate::VERSION
            ),
            FormatError::Truncated { needed, available } => write!(
                f,
                "model file truncated: needs at least {needed} bytes, has {available}"
            ),
            FormatError::TrailingBytes { offset } => {
                write!(
                    f,
                    "unexpected bytes after the model data at offset {offset}"
                )
            }
            FormatError::ChecksumMismatch { expected, actual } => write!(
                f,
                "model payload checksum mismatch: header has {expected:#010x}, payload has \
                 {actual:#010x}"
            ),
            FormatError::LimitExceeded {
                field,
                value,
                min,
                max,
            } => {
                write!(
                    f,
                    "{field} is {value}, outside the allowed range {min}..={max}"
                )
            }
            FormatError::InvalidLayer { index, reason } => {
                write!(f, "invalid layer {index}: {reason}")
            }
            FormatError::InvalidValue { field, offset } => {
                write!(f, "invalid {field} at offset {offset}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FormatError {}
