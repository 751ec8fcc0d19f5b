//! Fingerprints of fields, for checking that two runs agree to the last bit.
//!
//! [`field_sha256`] hashes a whole array in memory; a distributed field is hashed without any rank
//! holding it: [`distributed_sha256`] streams its row bands to one rank in order (the same
//! SHA-256, in the memory of one band, at the speed of one rank), and [`band_digest`] hashes every
//! band where it is assembled, all ranks at once, then the bands' hashes in order (a different
//! number, the same on any decomposition: for fields too large to stream).

use crate::comm::{le_bytes, Comm};
use crate::error::Result;
use crate::grid::{assemble_bands, Assembly, Bands, DistArray};
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

/// What [`distributed_sha256`] finds: the field's SHA-256 and its row-major sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    /// [`field_sha256`] of the global field.
    pub sha256: String,
    /// The sum of its values in row-major order, added one after another (the same bits as
    /// `field.iter().sum()` of the gathered field).
    pub sum: f64,
}

/// [`field_sha256`] of the global field `field` and its row-major sum, on `root` (`None` on the
/// other ranks), streamed there band by band: no rank holds more than a band beside its block.
/// Collective.
pub fn distributed_sha256(
    comm: &Comm,
    field: &DistArray,
    root: usize,
) -> Result<Option<Fingerprint>> {
    let d = &field.layout().decomp;
    let bands = Bands::new(d.nx, d.ny);
    let mut h = Sha256::new();
    let mut sum = 0.0;
    let mut bytes = Vec::new();
    assemble_bands(comm, field, &bands, Assembly::Root(root), |_, band| {
        h.update(le_bytes(band, &mut bytes));
        sum = band.iter().fold(sum, |s, &x| s + x);
        Ok(())
    })?;
    Ok((comm.rank() == root).then(|| Fingerprint {
        sha256: hex(&h.finalize()),
        sum,
    }))
}

/// SHA-256 of one band's values as little-endian bytes.
pub(crate) fn band_sha256(band: &[f64]) -> [u8; 32] {
    let mut spare = Vec::new();
    sha256_raw(le_bytes(band, &mut spare))
}

/// The digest of the band hashes `hashes` (in band order) of an array cut into `bands`:
/// SHA-256 of `halo-bands-v1`, `nx`, `ny` and the rows per band as little-endian u64, then the
/// bands' SHA-256s. Lowercase hex.
pub(crate) fn digest_of_bands(bands: &Bands, hashes: &[[u8; 32]]) -> String {
    let mut h = Sha256::new();
    h.update(b"halo-bands-v1");
    for n in [bands.nx, bands.ny, bands.rows] {
        h.update((n as u64).to_le_bytes());
    }
    for b in hashes {
        h.update(b);
    }
    hex(&h.finalize())
}

/// A fingerprint of the global field computed on every rank at once, without streaming it to one:
/// each band ([`Bands::new`]) is hashed with SHA-256 on the rank it is assembled on, and the
/// bands' hashes, gathered in order, are hashed again. Not the field's SHA-256, but the same for
/// the same field on any rank count, process grid or thread count.
/// Collective; every rank returns it.
pub fn band_digest(comm: &Comm, field: &DistArray) -> Result<String> {
    let d = &field.layout().decomp;
    let bands = Bands::new(d.nx, d.ny);
    let mut mine: Vec<u8> = Vec::new();
    assemble_bands(comm, field, &bands, Assembly::Spread, |_, band| {
        mine.extend_from_slice(&band_sha256(band));
        Ok(())
    })?;
    // Each rank holds the hashes of the bands it assembled, in order.
    let all = comm.all_gather_varcount(&mine)?;
    let mut hashes = vec![[0u8; 32]; bands.count()];
    for (q, ks) in Assembly::Spread
        .assignment(&field.layout().decomp, &bands)
        .iter()
        .enumerate()
    {
        for (t, &k) in ks.iter().enumerate() {
            hashes[k].copy_from_slice(&all.chunk(q)[32 * t..32 * (t + 1)]);
        }
    }
    Ok(digest_of_bands(&bands, &hashes))
}

/// SHA-256 of `bytes`.
pub(crate) fn sha256_raw(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// SHA-256 of `bytes`, as lowercase hex.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` as lowercase hex, two digits each.
pub(crate) fn hex(bytes: &[u8]) -> String {
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
