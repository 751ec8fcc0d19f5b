//! Exact sums: dot products whose value does not depend on how the sum was split.
//!
//! A floating-point sum depends on the order of its additions, so a dot product summed over 2
//! ranks differs in its last bits from the same one over 3, and a Krylov solver's iterates drift
//! apart from there. [`ExactSum`] keeps the sum of its terms *exactly*, as a fixed-point integer
//! wide enough for any finite `f64` (a "superaccumulator", after R. M. Neal, *Fast exact summation
//! using small and large superaccumulators*, 2015): adding terms in any order, on any number of
//! threads or ranks, and merging the parts in any order, gives the same integer, and
//! [`ExactSum::value`] rounds it once, to the nearest `f64` (ties to even). So a solver that
//! takes every dot product through it computes bitwise the same iterates on any decomposition.
//!
//! Each product `a[i] * b[i]` is rounded to `f64` once, as the plain loop rounds it (Rust never
//! fuses a multiply and an add on its own), and then summed without any further rounding.
//!
//! **Representation.** The integer counts units of 2⁻¹⁰⁷⁵ (half the smallest subnormal), in 67
//! chunks of 32 bits held in `i64`s: a term's 53-bit significand, shifted by the low 5 bits of
//! its exponent, lands in two neighbouring chunks picked by the exponent's high 6 bits. The spare
//! 31 bits of each chunk absorb a thousand terms before the carries need propagating.
//!
//! **Speed.** A long sum (a dot product over a rank's block) first adds each term's significand
//! to a table entry for its sign and exponent (R. M. Neal's "large superaccumulator"): a shift,
//! two masks and one addition to memory per term, and a branch taken only for zeros, subnormals,
//! infinities and NaNs. Every 2048 terms per table, the entries touched go into the chunks. Four
//! tables take alternate terms, so that terms of one exponent do not wait on each other. On the
//! project's machine a 1M-element dot product costs about 1.7 times the plain loop's time
//! (`cargo bench --bench exact`).
//!
//! **Non-finite terms** are counted apart (NaNs, +∞, −∞): any NaN, or both infinities, make the
//! value NaN; otherwise an infinity makes it that infinity. A finite sum too large for `f64`
//! rounds to ±∞, as IEEE rounding does. An exact zero is `+0.0`.
//!
//! **Across ranks.** [`ExactSum::to_limbs`] writes the sum as [`ExactSum::LIMBS`] `i64`s,
//! normalised so that adding the wire forms of up to 2²⁰ ranks limb by limb (`MPI_SUM` on
//! `i64`) cannot overflow, and [`ExactSum::from_limbs`] rounds such a sum of wire forms: the
//! exact total, rounded once. [`all_sums`] does this for several sums in one allreduce, and
//! [`start_all_sums`] without blocking, so a pipelined solver can overlap it with its operator.

use crate::comm::{AllReduce, Comm, ReduceOp};
use crate::error::Result;

/// 32-bit chunks of the fixed-point integer, lowest first: 64 for the exponent's high bits, one
/// for the significand's spill from the highest, and two of headroom for carries.
const CHUNKS: usize = 67;
/// Bits per chunk once normalised.
const CHUNK_BITS: u32 = 32;
const CHUNK_MASK: i64 = (1 << CHUNK_BITS) - 1;
/// Terms added to the chunks one by one between carry propagations. A normalised chunk is below
/// 2³², each term adds less than 2⁵² to it, so up to 2047 terms keep it inside an `i64`.
const PENDING_MAX: usize = 1024;
/// Tables that take alternate terms of a long sum, so that a run of terms with one exponent is
/// not a chain of dependent additions to one entry.
const LANES: usize = 4;
/// Terms each lane's table takes between drains: a table entry (`u64`) gains less than 2⁵³ per
/// term, so 2048 terms fit.
const BLOCK_TERMS: usize = 2048;
/// A sum shorter than this goes term by term into the chunks (the table's drain costs more).
const TABLE_MIN_TERMS: usize = 256;
/// The wire form's counts of non-finite terms, after the chunks.
const NANS: usize = CHUNKS;
const POS_INFS: usize = CHUNKS + 1;
const NEG_INFS: usize = CHUNKS + 2;

const EXP_MASK: u64 = 0x7FF;
const FRACTION_MASK: u64 = (1 << 52) - 1;
const HIDDEN_BIT: u64 = 1 << 52;

/// Per-exponent tables for long sums: for each of [`LANES`] lanes, one `u64` per sign and
/// biased exponent (indexed by an `f64`'s top 12 bits), holding the sum of the significands of
/// the normal terms with that sign and exponent (R. M. Neal's "large superaccumulator"). All
/// zero between sums: [`Table::drain`] zeroes what it reads.
struct Table {
    lanes: Box<[[u64; 4096]; LANES]>,
}

thread_local! {
    /// Each thread's table, allocated on its first long sum and kept (128 KiB), so that a sum
    /// neither allocates nor zeroes it: only the entries a sum touched are read and reset.
    static TABLE: std::cell::RefCell<Table> = std::cell::RefCell::new(Table::new());
}

impl Table {
    fn new() -> Table {
        let lanes = vec![[0u64; 4096]; LANES].into_boxed_slice();
        Table {
            lanes: lanes.try_into().expect("LANES tables"),
        }
    }

    /// Moves the entries of the exponent groups in `touched` (bit g: exponents 32g..32g+32) into
    /// `chunks` (normalised), and zeroes them.
    ///
    /// An entry `v` for biased exponent `e` stands for `v · 2^e` units; the lanes' entries,
    /// added in a `u128` (below 2⁶⁶), shifted by `e % 32` (below 2⁹⁷), span chunks `e / 32` to
    /// `e / 32 + 3` (at most 66 for `e` ≤ 2046). Each chunk gets below 2³² from at most 256
    /// entries (4 groups, 32 exponents, 2 signs), so stays below 2⁴¹.
    fn drain(&mut self, mut touched: u64, chunks: &mut Chunks) {
        while touched != 0 {
            let group = touched.trailing_zeros() as usize;
            touched &= touched - 1;
            for sign in [0usize, 1] {
                for exp in 32 * group..32 * group + 32 {
                    let entry = sign << 11 | exp;
                    let mut v = 0u128;
                    for lane in self.lanes.iter_mut() {
                        v += lane[entry] as u128;
                        lane[entry] = 0;
                    }
                    if v == 0 {
                        continue;
                    }
                    let shifted = v << (exp & 31);
                    let high = exp >> 5;
                    for (j, c) in chunks[high..high + 4].iter_mut().enumerate() {
                        let part = ((shifted >> (CHUNK_BITS as usize * j)) as i64) & CHUNK_MASK;
                        if sign == 0 {
                            *c += part;
                        } else {
                            *c -= part;
                        }
                    }
                }
            }
        }
    }
}

/// One accumulator's chunks.
type Chunks = [i64; CHUNKS];

/// The exact sum of `f64` terms, of any number of terms split any way; see the [module
/// docs](self).
///
/// ```
/// use halo::solver::exact::ExactSum;
///
/// let mut s = ExactSum::new();
/// for x in [1e300, 1.0, -1e300] {
///     s.add(x);
/// }
/// assert_eq!(s.value(), 1.0); // a plain sum gives 0
///
/// // The same dot product split in two and merged: bitwise the same value.
/// let a: Vec<f64> = (0..1000).map(|i| (i as f64).sin()).collect();
/// let b: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).cos()).collect();
/// let mut whole = ExactSum::new();
/// whole.add_products(&a, &b);
/// let (mut left, mut right) = (ExactSum::new(), ExactSum::new());
/// left.add_products(&a[..333], &b[..333]);
/// right.add_products(&a[333..], &b[333..]);
/// right.merge(&left);
/// assert_eq!(right.value().to_bits(), whole.value().to_bits());
/// ```
#[derive(Debug, Clone)]
pub struct ExactSum {
    chunks: Chunks,
    /// Terms added to `chunks` since its carries were last propagated.
    pending: usize,
    nans: u64,
    pos_infs: u64,
    neg_infs: u64,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum {
            chunks: [0; CHUNKS],
            pending: 0,
            nans: 0,
            pos_infs: 0,
            neg_infs: 0,
        }
    }
}

impl ExactSum {
    /// The length of the wire form, [`ExactSum::to_limbs`]: the chunks and three counts of
    /// non-finite terms.
    pub const LIMBS: usize = CHUNKS + 3;

    /// An empty sum (its value is `0.0`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `x` exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        if self.pending >= PENDING_MAX {
            normalise(&mut self.chunks);
            self.pending = 0;
        }
        let bits = x.to_bits();
        if is_finite(bits) {
            add_finite(&mut self.chunks, bits);
            self.pending += 1;
        } else {
            self.count_non_finite(bits);
        }
    }

    /// Adds every element of `xs` exactly.
    pub fn add_all(&mut self, xs: &[f64]) {
        self.accumulate(xs, xs, |x, _| x);
    }

    /// Adds `a[i] * b[i]` for every `i`, each product rounded to `f64` once and summed exactly.
    ///
    /// # Panics
    /// If `a` and `b` differ in length.
    pub fn add_products(&mut self, a: &[f64], b: &[f64]) {
        assert_eq!(
            a.len(),
            b.len(),
            "add_products: the two vectors differ in length"
        );
        self.accumulate(a, b, |x, y| x * y);
    }

    /// Adds `a[i]²` for every `i`, each square rounded to `f64` once and summed exactly.
    pub fn add_squares(&mut self, a: &[f64]) {
        self.accumulate(a, a, |x, _| x * x);
    }

    /// Adds `other`'s terms to this sum, exactly: merging parts in any order gives the same sum.
    pub fn merge(&mut self, other: &ExactSum) {
        let mut theirs = other.chunks;
        normalise(&mut theirs);
        self.absorb(&theirs);
        self.nans += other.nans;
        self.pos_infs += other.pos_infs;
        self.neg_infs += other.neg_infs;
    }

    /// Writes the wire form, [`ExactSum::LIMBS`] `i64`s: every chunk but the top one in
    /// `0..2³²`, the top one (which carries the sign) below 2⁴³ in magnitude for up to 2⁵⁶
    /// terms, and the counts of NaNs, +∞ and −∞. The wire forms of up to 2²⁰ ranks can be
    /// summed limb by limb in `i64` (`MPI_SUM`) without overflow, and [`ExactSum::from_limbs`]
    /// of that sum is the rounded exact total.
    ///
    /// # Panics
    /// If `out` does not hold exactly [`ExactSum::LIMBS`] elements.
    pub fn to_limbs(&self, out: &mut [i64]) {
        assert_eq!(
            out.len(),
            Self::LIMBS,
            "to_limbs: the wire form has ExactSum::LIMBS elements"
        );
        let mut chunks = self.chunks;
        normalise(&mut chunks);
        out[..CHUNKS].copy_from_slice(&chunks);
        out[NANS] = self.nans as i64;
        out[POS_INFS] = self.pos_infs as i64;
        out[NEG_INFS] = self.neg_infs as i64;
    }

    /// The value of a wire form, or of the limb-by-limb sum of several (see
    /// [`ExactSum::to_limbs`]): the exact sum rounded to the nearest `f64`, ties to even.
    ///
    /// # Panics
    /// If `limbs` does not hold exactly [`ExactSum::LIMBS`] elements.
    pub fn from_limbs(limbs: &[i64]) -> f64 {
        assert_eq!(
            limbs.len(),
            Self::LIMBS,
            "from_limbs: the wire form has ExactSum::LIMBS elements"
        );
        if let Some(special) = non_finite(limbs[NANS], limbs[POS_INFS], limbs[NEG_INFS]) {
            return special;
        }
        let mut chunks = [0i64; CHUNKS];
        chunks.copy_from_slice(&limbs[..CHUNKS]);
        round(&mut chunks)
    }

    /// The exact sum rounded to the nearest `f64`, ties to even.
    pub fn value(&self) -> f64 {
        let counts = (self.nans as i64, self.pos_infs as i64, self.neg_infs as i64);
        if let Some(special) = non_finite(counts.0, counts.1, counts.2) {
            return special;
        }
        let mut chunks = self.chunks;
        round(&mut chunks)
    }

    /// Adds `term(a[i], b[i])` for every `i`: one by one for a short sum, through the
    /// per-exponent table (see [`Table`]) for a long one.
    #[inline(always)]
    fn accumulate(&mut self, a: &[f64], b: &[f64], term: impl Fn(f64, f64) -> f64) {
        debug_assert_eq!(a.len(), b.len());
        if a.len() < TABLE_MIN_TERMS {
            for (&x, &y) in a.iter().zip(b) {
                self.add(term(x, y));
            }
            return;
        }
        TABLE.with(|table| match table.try_borrow_mut() {
            Ok(mut table) => self.accumulate_table(&mut table, a, b, &term),
            // Only reachable if a sum were taken inside a term, which none is.
            Err(_) => self.accumulate_table(&mut Table::new(), a, b, &term),
        });
    }

    /// The long sum: every finite, normal term's significand is added to its lane's table entry
    /// for its sign and exponent (one shift, two masks and one addition to memory per term), and
    /// every [`BLOCK_TERMS`] terms per lane the entries touched are moved into the chunks and zeroed.
    #[inline(always)]
    fn accumulate_table(
        &mut self,
        table: &mut Table,
        a: &[f64],
        b: &[f64],
        term: &impl Fn(f64, f64) -> f64,
    ) {
        let mut chunks = [0i64; CHUNKS];
        for (ca, cb) in a
            .chunks(LANES * BLOCK_TERMS)
            .zip(b.chunks(LANES * BLOCK_TERMS))
        {
            // Bit g set: some exponent in 32g..32g+32 has a non-zero entry.
            let mut touched = 0u64;
            let mut ia = ca.chunks_exact(LANES);
            let mut ib = cb.chunks_exact(LANES);
            for (xa, xb) in (&mut ia).zip(&mut ib) {
                for (k, lane) in table.lanes.iter_mut().enumerate() {
                    let bits = term(xa[k], xb[k]).to_bits();
                    let entry = (bits >> 52) as usize; // sign and biased exponent
                    let exp = entry & EXP_MASK as usize;
                    if exp.wrapping_sub(1) < EXP_MASK as usize - 1 {
                        lane[entry] += (bits & FRACTION_MASK) | HIDDEN_BIT;
                        touched |= 1 << (exp >> 5);
                    } else {
                        self.add_rare(&mut chunks, bits);
                    }
                }
            }
            for (&x, &y) in ia.remainder().iter().zip(ib.remainder()) {
                self.add_rare(&mut chunks, term(x, y).to_bits());
            }
            table.drain(touched, &mut chunks);
            normalise(&mut chunks);
        }
        self.absorb(&chunks);
    }

    /// Adds a term the table does not take: zero, subnormal, infinite or NaN, or one of the
    /// last few of a long sum. A block adds at most 2¹³ of them to `chunks`: subnormals, below
    /// 2³² in a chunk each, and at most 3 normal terms (a long sum's tail), each below 2⁵², on
    /// top of the table's below 2⁴⁰ — so no chunk leaves an `i64`.
    #[cold]
    #[inline(never)]
    fn add_rare(&mut self, chunks: &mut Chunks, bits: u64) {
        if is_finite(bits) {
            add_finite(chunks, bits);
        } else {
            self.count_non_finite(bits);
        }
    }

    /// Adds normalised chunks to this sum's, leaving it normalised.
    fn absorb(&mut self, chunks: &Chunks) {
        normalise(&mut self.chunks);
        for (mine, &theirs) in self.chunks.iter_mut().zip(chunks) {
            *mine += theirs;
        }
        normalise(&mut self.chunks);
        self.pending = 0;
    }

    #[cold]
    fn count_non_finite(&mut self, bits: u64) {
        if bits & FRACTION_MASK != 0 {
            self.nans += 1;
        } else if bits >> 63 == 0 {
            self.pos_infs += 1;
        } else {
            self.neg_infs += 1;
        }
    }
}

/// Whether an `f64`'s bits are of a finite value (not ±∞, not NaN).
#[inline(always)]
fn is_finite(bits: u64) -> bool {
    (bits >> 52) & EXP_MASK != EXP_MASK
}

/// Adds the finite `f64` with these bits to `chunks`, exactly.
///
/// Its value is `m · 2^(e − 1075)` with `m` the 53-bit significand (the implicit bit set for a
/// normal number) and `e` the biased exponent (1 for a subnormal or zero), i.e. `m · 2^e` units
/// of 2⁻¹⁰⁷⁵: `m << (e % 32)` spans chunks `e / 32` (its low 32 bits) and `e / 32 + 1` (the
/// rest, below 2⁵²). The sign is applied to both parts without a branch.
#[inline(always)]
fn add_finite(chunks: &mut Chunks, bits: u64) {
    let exp = (bits >> 52) & EXP_MASK;
    let normal = u64::from(exp != 0);
    let mantissa = (bits & FRACTION_MASK) | (normal << 52);
    let exp = exp + (1 - normal);
    let low_exp = (exp & 31) as u32;
    let high = (exp >> 5) as usize; // at most 63 for a finite value, so high + 1 < CHUNKS
    let low = ((mantissa << low_exp) as i64) & CHUNK_MASK;
    let spill = (mantissa >> (CHUNK_BITS - low_exp)) as i64;
    let sign = (bits as i64) >> 63; // 0, or -1 for a negative value
    chunks[high] += (low ^ sign) - sign;
    chunks[high + 1] += (spill ^ sign) - sign;
}

/// Propagates carries so that every chunk but the top one is in `0..2³²`; the top one keeps the
/// sign. The integer the chunks stand for is unchanged.
#[inline]
fn normalise(chunks: &mut Chunks) {
    let mut carry = 0i64;
    for c in chunks[..CHUNKS - 1].iter_mut() {
        let v = *c + carry;
        carry = v >> CHUNK_BITS;
        *c = v & CHUNK_MASK;
    }
    chunks[CHUNKS - 1] += carry;
}

/// The value when some terms were not finite, from the counts of NaNs, +∞ and −∞.
fn non_finite(nans: i64, pos_infs: i64, neg_infs: i64) -> Option<f64> {
    match (nans != 0, pos_infs != 0, neg_infs != 0) {
        (false, false, false) => None,
        (true, _, _) | (false, true, true) => Some(f64::NAN),
        (false, true, false) => Some(f64::INFINITY),
        (false, false, true) => Some(f64::NEG_INFINITY),
    }
}

/// The integer `chunks` stand for, in units of 2⁻¹⁰⁷⁵, rounded to the nearest `f64` (ties to
/// even). Overwrites `chunks`.
///
/// With `I` the magnitude and `L` its bit length, the result keeps `I`'s top bits above a
/// quantum of `2^s` units, `s = max(L − 53, 1)` (a subnormal's quantum is 2 units): `m = I >> s`,
/// rounded up when the bits below are above half a quantum, or exactly half and `m` odd. Its
/// bits are then `((s − 1) << 52) + m`, a carry of `m` into 2⁵³ bumping the exponent on its own.
fn round(chunks: &mut Chunks) -> f64 {
    normalise(chunks);
    let negative = chunks[CHUNKS - 1] < 0;
    if negative {
        for c in chunks.iter_mut() {
            *c = -*c;
        }
        normalise(chunks);
    }
    let Some(top) = chunks.iter().rposition(|&c| c != 0) else {
        return 0.0;
    };
    // The top three chunks (a window of up to 127 bits: the top chunk may exceed 32 bits),
    // and whether anything below them is non-zero.
    let base_chunk = top.max(2) - 2;
    let window = chunks[base_chunk..=base_chunk + 2]
        .iter()
        .rev()
        .fold(0u128, |w, &c| (w << CHUNK_BITS) + c as u128);
    let sticky = chunks[..base_chunk].iter().any(|&c| c != 0);
    let base = CHUNK_BITS as u64 * base_chunk as u64;
    let length = base + (128 - u64::from(window.leading_zeros()));
    let shift = length.saturating_sub(53).max(1);
    if shift >= 2047 {
        return if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    // When base_chunk > 0, length > 32 * (base_chunk + 2), so shift > base: local is at least 1.
    let local = (shift - base) as u32;
    let mut m = (window >> local) as u64;
    let rest = window & ((1u128 << local) - 1);
    let half = 1u128 << (local - 1);
    if rest > half || (rest == half && (sticky || m & 1 == 1)) {
        m += 1;
    }
    let bits = ((shift - 1) << 52) + m;
    let magnitude = if bits >= EXP_MASK << 52 {
        f64::INFINITY
    } else {
        f64::from_bits(bits)
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Every rank's sums, each totalled over all ranks and rounded once: one `MPI_Allreduce` (an
/// `i64` sum) of all the wire forms together. Collective: every rank passes as many sums.
///
/// The result is bitwise the same however the terms were spread over ranks and threads.
pub fn all_sums(comm: &Comm, sums: &[ExactSum]) -> Result<Vec<f64>> {
    let send = wire_forms(sums);
    let mut recv = vec![0i64; send.len()];
    comm.all_reduce_into(&send, &mut recv, ReduceOp::Sum)?;
    Ok(values(&recv))
}

/// Starts totalling every rank's sums over all ranks, as [`all_sums`] does, without waiting: one
/// `MPI_Iallreduce` whose buffers the returned [`PendingSums`] owns until
/// [`PendingSums::wait`] gives the values. Collective: every rank passes as many sums, and
/// starts its nonblocking collectives on `comm` in the same order.
///
/// ```no_run
/// use halo::solver::exact::{start_all_sums, ExactSum};
///
/// # fn main() -> halo::Result<()> {
/// let mpi = halo::comm::init()?;
/// let world = mpi.world();
/// let (r, p) = (vec![0.5; 1000], vec![0.25; 1000]);
/// let (mut rr, mut rp) = (ExactSum::new(), ExactSum::new());
/// rr.add_squares(&r);
/// rp.add_products(&r, &p);
/// let mut pending = start_all_sums(&world, &[rr, rp])?;
/// // ... apply the operator meanwhile, calling pending.test() now and then ...
/// pending.test();
/// let dots = pending.wait()?;
/// assert_eq!(dots[0], 250.0 * world.size() as f64);
/// # Ok(())
/// # }
/// ```
pub fn start_all_sums<'a>(comm: &'a Comm, sums: &[ExactSum]) -> Result<PendingSums<'a>> {
    let reduce = comm.immediate_all_reduce(wire_forms(sums), ReduceOp::Sum)?;
    Ok(PendingSums { reduce })
}

/// Sums being totalled across ranks: returned by [`start_all_sums`]. Dropping it before
/// [`PendingSums::wait`] waits for the reduction and discards it. Not `Send`.
#[must_use = "the totals come from wait()"]
pub struct PendingSums<'a> {
    reduce: AllReduce<'a, i64>,
}

impl PendingSums<'_> {
    /// Lets MPI move the reduction along (`MPI_Test`); returns whether it has completed.
    pub fn test(&mut self) -> bool {
        self.reduce.test()
    }

    /// Waits for the reduction; returns each sum's total over all ranks, rounded once, in the
    /// order the sums were passed.
    pub fn wait(self) -> Result<Vec<f64>> {
        Ok(values(&self.reduce.wait()))
    }
}

/// The wire forms of `sums`, one after the other.
fn wire_forms(sums: &[ExactSum]) -> Vec<i64> {
    let mut send = vec![0i64; sums.len() * ExactSum::LIMBS];
    for (s, out) in sums.iter().zip(send.chunks_exact_mut(ExactSum::LIMBS)) {
        s.to_limbs(out);
    }
    send
}

/// The values of summed wire forms, one after the other.
fn values(limbs: &[i64]) -> Vec<f64> {
    limbs
        .chunks_exact(ExactSum::LIMBS)
        .map(ExactSum::from_limbs)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (SplitMix64), so the tests need no crate.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A finite value with a random sign, significand and a biased exponent in `exps`.
        fn float(&mut self, exps: std::ops::Range<u64>) -> f64 {
            let exp = exps.start + self.below(exps.end - exps.start);
            let bits = (self.next() & (1 << 63)) | (exp << 52) | (self.next() & FRACTION_MASK);
            f64::from_bits(bits)
        }
    }

    /// A slow, independent exact integer: two's complement over 40 words of 64 bits, in units of
    /// 2⁻¹⁰⁷⁵, built bit by bit. The tests judge the accumulator against it.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    struct Big([u64; 40]);

    impl Big {
        fn zero() -> Big {
            Big([0; 40])
        }

        fn of(x: f64) -> Big {
            assert!(x.is_finite());
            let bits = x.to_bits();
            let exp = (bits >> 52) & EXP_MASK;
            let (m, e) = if exp == 0 {
                (bits & FRACTION_MASK, 1)
            } else {
                ((bits & FRACTION_MASK) | (1 << 52), exp)
            };
            let mut b = Big::zero();
            for k in 0..53 {
                if m >> k & 1 == 1 {
                    let at = (e + k) as usize;
                    b.0[at / 64] |= 1 << (at % 64);
                }
            }
            if x < 0.0 {
                b.neg()
            } else {
                b
            }
        }

        fn add(self, o: Big) -> Big {
            let mut out = Big::zero();
            let mut carry = 0u128;
            for i in 0..40 {
                let s = self.0[i] as u128 + o.0[i] as u128 + carry;
                out.0[i] = s as u64;
                carry = s >> 64;
            }
            out
        }

        fn neg(self) -> Big {
            let mut inv = self;
            for w in &mut inv.0 {
                *w = !*w;
            }
            let mut one = Big::zero();
            one.0[0] = 1;
            inv.add(one)
        }

        fn sub(self, o: Big) -> Big {
            self.add(o.neg())
        }

        fn abs(self) -> Big {
            if self.0[39] >> 63 == 1 {
                self.neg()
            } else {
                self
            }
        }

        /// Compares magnitudes of two non-negative values.
        fn cmp_abs(self, o: Big) -> std::cmp::Ordering {
            let (a, b) = (self.abs(), o.abs());
            a.0.iter().rev().cmp(b.0.iter().rev())
        }
    }

    fn exact(terms: &[f64]) -> Big {
        terms.iter().fold(Big::zero(), |s, &x| s.add(Big::of(x)))
    }

    /// Asserts that `r` is the exact sum `s` rounded to nearest, ties to even, by comparing the
    /// distance to its neighbours (a check independent of how the accumulator rounds).
    fn assert_correctly_rounded(s: Big, r: f64) {
        assert!(r.is_finite(), "{r}");
        let d = s.sub(Big::of(r));
        for n in [r.next_up(), r.next_down()] {
            if !n.is_finite() {
                continue;
            }
            let dn = s.sub(Big::of(n));
            match d.cmp_abs(dn) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => assert_eq!(
                    r.to_bits() & 1,
                    0,
                    "a tie must round to even: {r:e} against {n:e}"
                ),
                std::cmp::Ordering::Greater => panic!("{n:e} is nearer the exact sum than {r:e}"),
            }
        }
    }

    fn sum_of(terms: &[f64]) -> f64 {
        let mut s = ExactSum::new();
        s.add_all(terms);
        s.value()
    }

    #[test]
    fn cancellation_keeps_what_a_float_sum_loses() {
        assert_eq!(sum_of(&[1e300, 1.0, -1e300]), 1.0);
        assert_eq!(sum_of(&[1.0, 1e100, 1.0, -1e100]), 2.0);
        assert_eq!(
            sum_of(&[f64::MAX, f64::MAX, -f64::MAX, -f64::MAX, 3.5]),
            3.5
        );
        let tiny = f64::from_bits(1); // the smallest subnormal
        assert_eq!(sum_of(&[1e308, tiny, -1e308]), tiny);
        assert_eq!(sum_of(&[tiny, tiny, tiny]), f64::from_bits(3));
        // The binary 0.1 and 0.2 add up to 2^-55 more than the binary 0.3 (a float sum says 2^-54).
        assert_eq!(sum_of(&[0.1, 0.2, -0.3]), 2f64.powi(-55));
        assert_eq!(sum_of(&[]), 0.0);
        assert_eq!(sum_of(&[-0.0, -0.0]).to_bits(), 0.0f64.to_bits());
        assert_eq!(sum_of(&[5.0, -5.0]).to_bits(), 0.0f64.to_bits());
    }

    #[test]
    fn integers_sum_as_integers() {
        // Many terms (several carry blocks), mixed signs: the exact total is known as an i128.
        let mut rng = Rng(7);
        let terms: Vec<i64> = (0..20_000)
            .map(|_| rng.below(1 << 53) as i64 - (1 << 52))
            .collect();
        let want: i128 = terms.iter().map(|&t| t as i128).sum();
        let floats: Vec<f64> = terms.iter().map(|&t| t as f64).collect();
        assert_eq!(sum_of(&floats), want as f64);
        // 2^53 + 1 is not an f64: the tie rounds to even, down to 2^53.
        assert_eq!(sum_of(&[2f64.powi(53), 1.0]), 2f64.powi(53));
        assert_eq!(sum_of(&[2f64.powi(53), 1.0, 1.0]), 2f64.powi(53) + 2.0);
        assert_eq!(sum_of(&[2f64.powi(53), 3.0]), 2f64.powi(53) + 4.0);
    }

    #[test]
    fn small_values_add_up_without_loss() {
        // A million copies of 0.1: the exact sum of the binary 0.1, rounded once.
        let terms = vec![0.1; 1_000_000];
        let got = sum_of(&terms);
        let mut s = Big::zero();
        let tenth = Big::of(0.1);
        for _ in 0..1_000_000 {
            s = s.add(tenth);
        }
        assert_correctly_rounded(s, got);
        assert_ne!(got, terms.iter().sum::<f64>());
    }

    #[test]
    fn products_and_squares_round_each_product_once() {
        let a = [3.0, 0.1, -2.5, 1e-200, 1e200];
        let b = [4.0, 0.3, 2.0, 1e-200, -1e100];
        let mut s = ExactSum::new();
        s.add_products(&a, &b);
        let products: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
        assert_eq!(s.value(), sum_of(&products));
        let mut q = ExactSum::new();
        q.add_squares(&a);
        let squares: Vec<f64> = a.iter().map(|x| x * x).collect();
        assert_eq!(q.value(), sum_of(&squares));
    }

    #[test]
    #[should_panic(expected = "differ in length")]
    fn products_of_unequal_lengths_panic() {
        ExactSum::new().add_products(&[1.0, 2.0], &[1.0]);
    }

    #[test]
    fn rounding_is_correct_against_a_slow_reference() {
        let mut rng = Rng(11);
        for case in 0..300 {
            let n = 1 + rng.below(300) as usize;
            // Narrow or wide exponent ranges, subnormals among them, with heavy cancellation.
            let lo = [1, 900, 1000, 1, 1020][case % 5];
            let hi = [60, 1100, 1030, 2000, 1024][case % 5];
            let mut terms: Vec<f64> = (0..n).map(|_| rng.float(lo..hi)).collect();
            if case % 3 == 0 {
                let negated: Vec<f64> = terms.iter().map(|x| -x).collect();
                terms.extend(negated);
                terms.push(rng.float(lo..hi));
            }
            let got = sum_of(&terms);
            assert_correctly_rounded(exact(&terms), got);
        }
    }

    #[test]
    fn ties_and_subnormal_results_round_correctly() {
        let mut rng = Rng(5);
        for _ in 0..2000 {
            // Two terms whose exact sum lies near half an ulp of the larger one.
            let x = rng.float(1..2046);
            let ulp = x.abs().next_up() - x.abs();
            let offsets = [0.5, 0.25, 0.75, 1.5];
            let off = ulp * offsets[rng.below(4) as usize];
            for extra in [0.0, ulp * 2f64.powi(-40), -ulp * 2f64.powi(-40)] {
                let terms = [x, off, extra];
                if terms.iter().all(|t| t.is_finite()) {
                    assert_correctly_rounded(exact(&terms), sum_of(&terms));
                }
            }
        }
        // Results in the subnormal range and across the boundary to the normal numbers.
        for _ in 0..2000 {
            let terms: Vec<f64> = (0..1 + rng.below(8)).map(|_| rng.float(0..3)).collect();
            assert_correctly_rounded(exact(&terms), sum_of(&terms));
        }
    }

    #[test]
    fn non_finite_terms_are_not_lost() {
        assert!(sum_of(&[1.0, f64::NAN, 2.0]).is_nan());
        assert_eq!(sum_of(&[1.0, f64::INFINITY, -1e308]), f64::INFINITY);
        assert_eq!(sum_of(&[f64::NEG_INFINITY, 1e308]), f64::NEG_INFINITY);
        assert!(sum_of(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        // A finite sum beyond f64's range rounds to infinity; back within it, it is exact again.
        assert_eq!(sum_of(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(sum_of(&[-f64::MAX, -f64::MAX]), f64::NEG_INFINITY);
        assert_eq!(sum_of(&[f64::MAX, f64::MAX, -f64::MAX]), f64::MAX);
        // An overflowing product is an infinity, as in the plain loop; in short and long sums.
        for n in [100, 10_000] {
            let mut a = vec![1.0; n];
            a[57] = 1e300;
            let mut s = ExactSum::new();
            s.add_products(&a, &a);
            assert_eq!(s.value(), f64::INFINITY);
            a[n - 2] = -f64::INFINITY;
            let mut s = ExactSum::new();
            s.add_all(&a);
            assert_eq!(s.value(), f64::NEG_INFINITY);
            a[57] = f64::INFINITY;
            let mut s = ExactSum::new();
            s.add_all(&a);
            assert!(s.value().is_nan());
            a[n - 2] = f64::NAN;
            a[57] = 1.0;
            let mut s = ExactSum::new();
            s.add_products(&a, &a);
            assert!(s.value().is_nan());
        }
        // Through the wire form, summed across "ranks".
        let mut limbs = vec![0i64; ExactSum::LIMBS];
        let mut sum = vec![0i64; ExactSum::LIMBS];
        for x in [f64::INFINITY, 3.0] {
            let mut s = ExactSum::new();
            s.add(x);
            s.to_limbs(&mut limbs);
            sum.iter_mut().zip(&limbs).for_each(|(t, l)| *t += l);
        }
        assert_eq!(ExactSum::from_limbs(&sum), f64::INFINITY);
    }

    /// Terms with a wide spread of exponents and signs, and cancellation.
    fn hard_terms(rng: &mut Rng, n: usize) -> Vec<f64> {
        let mut terms: Vec<f64> = (0..n)
            .map(|i| match i % 4 {
                0 => rng.float(1..2030),
                1 => rng.float(1000..1050),
                2 => rng.float(0..40),
                _ => rng.float(1020..1030),
            })
            .collect();
        for i in (0..n).step_by(7) {
            let j = rng.below(n as u64) as usize;
            terms[j] = -terms[i];
        }
        for i in (0..n).step_by(101) {
            terms[i] = 0.0;
        }
        terms
    }

    #[test]
    fn any_order_and_any_split_give_the_same_bits() {
        let mut rng = Rng(3);
        let terms = hard_terms(&mut rng, 50_000);
        let want = sum_of(&terms);
        assert_correctly_rounded(exact(&terms), want);
        for trial in 0..20 {
            // A random permutation.
            let mut t = terms.clone();
            for i in (1..t.len()).rev() {
                t.swap(i, rng.below(i as u64 + 1) as usize);
            }
            // Split into random parts, summed by different methods, merged in a random order.
            let parts = 1 + rng.below(9) as usize;
            let mut cuts: Vec<usize> = (0..parts - 1)
                .map(|_| rng.below(t.len() as u64) as usize)
                .collect();
            cuts.push(0);
            cuts.push(t.len());
            cuts.sort_unstable();
            let mut sums: Vec<ExactSum> = cuts
                .windows(2)
                .enumerate()
                .map(|(k, w)| {
                    let mut s = ExactSum::new();
                    let part = &t[w[0]..w[1]];
                    match (k + trial) % 3 {
                        0 => s.add_all(part),
                        1 => part.iter().for_each(|&x| s.add(x)),
                        _ => s.add_products(part, &vec![1.0; part.len()]),
                    }
                    s
                })
                .collect();
            for i in (1..sums.len()).rev() {
                sums.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let mut merged = ExactSum::new();
            for s in &sums {
                merged.merge(s);
            }
            assert_eq!(merged.value().to_bits(), want.to_bits(), "trial {trial}");
            // The same parts as ranks: wire forms summed limb by limb, as MPI_SUM does.
            let mut total = vec![0i64; ExactSum::LIMBS];
            let mut limbs = vec![0i64; ExactSum::LIMBS];
            for s in &sums {
                s.to_limbs(&mut limbs);
                total.iter_mut().zip(&limbs).for_each(|(t, l)| *t += l);
            }
            assert_eq!(ExactSum::from_limbs(&total).to_bits(), want.to_bits());
        }
    }

    #[test]
    fn wire_forms_are_normalised_and_sum_without_overflow() {
        // The largest terms there are, many of them, one sign: the top limb stays small.
        let mut s = ExactSum::new();
        s.add_all(&vec![f64::MAX; 100_000]);
        let mut limbs = vec![0i64; ExactSum::LIMBS];
        s.to_limbs(&mut limbs);
        assert!(limbs[..CHUNKS - 1]
            .iter()
            .all(|&l| (0..1 << 32).contains(&l)));
        assert!(limbs[CHUNKS - 1].abs() < 1 << 43, "{}", limbs[CHUNKS - 1]);
        // 2^20 ranks' worth of those wire forms (the worst case per limb) summed in i64.
        let ranks: i64 = 1 << 20;
        let total: Vec<i64> = limbs
            .iter()
            .map(|&l| l.checked_mul(ranks).unwrap())
            .collect();
        assert_eq!(ExactSum::from_limbs(&total), f64::INFINITY);
        // Negative wire forms, and a sum that cancels across "ranks" to a tiny remainder.
        let mut neg = ExactSum::new();
        neg.add_all(&vec![-f64::MAX; 100_000]);
        neg.add(f64::from_bits(1));
        let mut neg_limbs = vec![0i64; ExactSum::LIMBS];
        neg.to_limbs(&mut neg_limbs);
        assert!(neg_limbs[..CHUNKS - 1]
            .iter()
            .all(|&l| (0..1 << 32).contains(&l)));
        let both: Vec<i64> = limbs.iter().zip(&neg_limbs).map(|(a, b)| a + b).collect();
        assert_eq!(ExactSum::from_limbs(&both), f64::from_bits(1));
    }

    #[test]
    fn adding_one_by_one_past_many_blocks_stays_exact() {
        // add() propagates its own carries: 10 blocks of the largest significands, one sign.
        let x = f64::from_bits(0x7FEF_FFFF_FFFF_FFFF) / 2f64.powi(900);
        let mut s = ExactSum::new();
        let mut reference = Big::zero();
        for _ in 0..10 * PENDING_MAX {
            s.add(x);
            reference = reference.add(Big::of(x));
        }
        assert_correctly_rounded(reference, s.value());
        // The product, rounded once, is the exact sum rounded once.
        assert_eq!(s.value(), x * (10 * PENDING_MAX) as f64);
    }

    #[test]
    fn table_entries_at_their_limit_stay_exact() {
        // Every term of one sign and exponent with the largest significand, so that each lane's
        // entry reaches its bound before every drain; then both signs, and a remainder.
        let big = f64::from_bits(0x3FFF_FFFF_FFFF_FFFF);
        for terms in [
            vec![big; 3 * LANES * BLOCK_TERMS + 3],
            (0..3 * LANES * BLOCK_TERMS + 1)
                .map(|i| if i % 5 == 0 { -big } else { big })
                .collect(),
        ] {
            assert_correctly_rounded(exact(&terms), sum_of(&terms));
            let mut s = ExactSum::new();
            s.add_products(&terms, &vec![-0.5; terms.len()]);
            let halves: Vec<f64> = terms.iter().map(|x| -0.5 * x).collect();
            assert_correctly_rounded(exact(&halves), s.value());
        }
    }

    #[test]
    fn long_sums_match_the_one_by_one_path() {
        let mut rng = Rng(9);
        for n in [
            TABLE_MIN_TERMS,
            TABLE_MIN_TERMS + 1,
            5_000,
            3 * LANES * BLOCK_TERMS + 5,
        ] {
            let terms = hard_terms(&mut rng, n);
            let mut one_by_one = ExactSum::new();
            terms.iter().for_each(|&x| one_by_one.add(x));
            let got = sum_of(&terms);
            assert_eq!(got.to_bits(), one_by_one.value().to_bits(), "{n} terms");
            assert_correctly_rounded(exact(&terms), got);
        }
        // Each exponent group in turn (subnormals and the lowest binades first), alone, so that
        // nothing larger hides a mistake in it.
        for lo in (0..2000).step_by(32) {
            let terms: Vec<f64> = (0..5_000).map(|_| rng.float(lo..lo + 33)).collect();
            assert_correctly_rounded(exact(&terms), sum_of(&terms));
        }
    }

    #[test]
    fn clone_and_default_are_independent_sums() {
        let mut a = ExactSum::default();
        a.add(2.0);
        let mut b = a.clone();
        b.add(3.0);
        assert_eq!((a.value(), b.value()), (2.0, 5.0));
    }
}
