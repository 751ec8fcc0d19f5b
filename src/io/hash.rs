//! Fingerprints of fields, for checking that two runs agree to the last bit.

use ndarray::Array2;
use sha2::{Digest, Sha256};

/// SHA-256 of `field` as little-endian `f64` in row-major order, as lowercase hex.
pub fn field_sha256(field: &Array2<f64>) -> String {
    let mut h = Sha256::new();
    for x in field.iter() {
        h.update(x.to_le_bytes());
    }
    hex(&h.finalize())
}

/// SHA-256 of `bytes`, as lowercase hex.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` as lowercase hex, two digits each.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_little_endian_bytes_in_row_major_order() {
        // SHA-256 of the 16 bytes of 1.0f64 and 2.0f64, little-endian, from Python:
        // hashlib.sha256(struct.pack('<2d', 1.0, 2.0)).hexdigest()
        let a = Array2::from_shape_vec((1, 2), vec![1.0, 2.0]).unwrap();
        let b = Array2::from_shape_vec((2, 1), vec![1.0, 2.0]).unwrap();
        let t = a.t().to_owned(); // the same numbers, column-major
        assert_eq!(field_sha256(&a), field_sha256(&b));
        assert_eq!(field_sha256(&a), field_sha256(&t.t().to_owned()));
        assert_eq!(
            field_sha256(&a),
            "dc91ce9a50ddc828740aa26743716897fdb2bb64f1db662fe263a59be56145ae"
        );
    }

    #[test]
    fn a_field_hashes_as_its_bytes_do() {
        // The checkpoint's payload checksum and the field hash agree on one field's bytes.
        let a = Array2::from_shape_fn((3, 2), |(i, j)| i as f64 - 0.5 * j as f64);
        let bytes: Vec<u8> = a.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(sha256_hex(&bytes), field_sha256(&a));
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }
}
