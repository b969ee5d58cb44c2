//! CRC-32 as used by IEEE 802.3, zlib and PNG: reflected polynomial `0xEDB88320`, initial value
//! and final XOR `0xFFFFFFFF`.

const POLYNOMIAL: u32 = 0xEDB8_8320;

/// Remainder of every byte value, one table lookup per input byte.
const TABLE: [u32; 256] = build_table();

const fn build_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut remainder = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            remainder = if remainder & 1 == 1 {
                (remainder >> 1) ^ POLYNOMIAL
            } else {
                remainder >> 1
            };
            bit += 1;
        }
        table[byte] = remainder;
        byte += 1;
    }
    table
}

/// Computes the CRC-32 (IEEE) of `bytes`. The check value of `b"123456789"` is `0xCBF43926`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in bytes {
        let index = (crc ^ u32::from(byte)) as u8;
        crc = TABLE[usize::from(index)] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn crc32_empty_input() {
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn crc32_detects_single_bit_flip() {
        let original = crc32(b"GenKSC model payload");
        let flipped = crc32(b"GenKSC model paylo`d");
        assert_ne!(original, flipped);
    }
}
