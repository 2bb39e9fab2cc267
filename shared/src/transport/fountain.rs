//! Our own fountain decoder, in place of the `ur` crate's.
//!
//! The crate's decoder trusts what a frame claims: for each fountain frame
//! it builds a table and a list as long as the claimed fragment count
//! (65,536 at most), searches every waiting frame for each fragment it
//! resolves, and puts the message together by copying it once per fragment.
//! 600 frames claiming 65,536 fragments took 14 s, and a 2 MiB file in
//! 65,533 frames 19 s. Here:
//!
//! - the degree table is built once per read, not once per frame;
//! - a fountain frame mixing more than [`MAX_MIX_DEGREE`] fragments is taken
//!   in but not used (such a frame only helps once all but one of its
//!   fragments are known, which the plain frames and the low-degree mixes
//!   give as well); its fragments are drawn in time quadratic in that
//!   degree, never linear in the count;
//! - each waiting mix is listed under each fragment it still lacks, so a
//!   resolved fragment touches only the mixes that hold it;
//! - fragments are stored as they arrive and copied once, in order, when the
//!   last is known.
//!
//! Work and memory are linear in the frames received (at most
//! `MAX_MIX_DEGREE` steps per byte of a frame), and the message at most
//! the crossing-file limit plus one fragment, which `frame` checked.
//!
//! The choice of fragments is the one of BCR-2020-005 and of the `ur`
//! crate, which our encoder uses: a xoshiro256** generator seeded with the
//! sha256 of the frame's sequence number and the message's CRC32, a degree
//! drawn from weights 1/d by Vose's alias method, then that many fragments
//! drawn without replacement. The tests check it against the crate's
//! encoder, frame by frame.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::frame::Shape;

/// The most fragments a fountain frame may mix and still be used.
pub(crate) const MAX_MIX_DEGREE: usize = 64;

/// Why the fragments do not make the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FountainError {
    /// The bytes after the message's end are not zero.
    Padding,
    /// The message's CRC32 is not the one every frame carries.
    Checksum,
}

impl std::fmt::Display for FountainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FountainError::Padding => "invalid padding after the message",
            FountainError::Checksum => "the message's CRC32 does not match the frames'",
        })
    }
}

/// A fountain frame still waiting for some of its fragments.
struct Mix {
    /// The fragments it still lacks (it holds their XOR).
    lacks: Vec<u32>,
    data: Vec<u8>,
}

/// The fragments of one message, as far as they are known.
pub(crate) struct Fountain {
    shape: Shape,
    fragments: HashMap<u32, Vec<u8>>,
    mixes: Vec<Option<Mix>>,
    /// For each fragment not yet known, the mixes that lack it.
    waiting: HashMap<u32, Vec<usize>>,
    degrees: Option<Degrees>,
    /// Steps taken (fragment draws, bytes XORed and copied): what the tests
    /// bound, instead of timing.
    work: u64,
}

impl Fountain {
    /// An empty decoder for frames of `shape` (whose numbers `frame`
    /// checked: count ≥ 1, count × fragment length within the limit).
    pub(crate) fn new(shape: Shape) -> Fountain {
        Fountain {
            shape,
            fragments: HashMap::new(),
            mixes: Vec::new(),
            waiting: HashMap::new(),
            degrees: None,
            work: 0,
        }
    }

    /// Fragments known.
    pub(crate) fn resolved(&self) -> usize {
        self.fragments.len()
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.fragments.len() == self.shape.count
    }

    #[cfg(test)]
    pub(crate) fn work(&self) -> u64 {
        self.work
    }

    /// Takes in frame `sequence` (≥ 1), whose data has the shape's fragment
    /// length.
    pub(crate) fn receive(&mut self, sequence: usize, data: &[u8]) {
        debug_assert_eq!(data.len(), self.shape.fragment_len);
        if self.is_complete() {
            return;
        }
        let Some(indexes) = self.choose(sequence) else {
            return;
        };
        let mut data = data.to_vec();
        let mut lacks = Vec::with_capacity(indexes.len());
        for i in indexes {
            match self.fragments.get(&i) {
                Some(known) => {
                    xor(&mut data, known);
                    self.work += data.len() as u64;
                }
                None => lacks.push(i),
            }
        }
        match lacks.len() {
            0 => {}
            1 => self.resolve(lacks[0], data),
            _ => {
                let id = self.mixes.len();
                for i in &lacks {
                    self.waiting.entry(*i).or_default().push(id);
                }
                self.work += lacks.len() as u64;
                self.mixes.push(Some(Mix { lacks, data }));
            }
        }
    }

    /// Fragment `index` is `data`; so are, in turn, the mixes it completes.
    fn resolve(&mut self, index: u32, data: Vec<u8>) {
        let mut queue = vec![(index, data)];
        while let Some((index, data)) = queue.pop() {
            if self.fragments.contains_key(&index) {
                continue;
            }
            for id in self.waiting.remove(&index).unwrap_or_default() {
                let Some(mix) = self.mixes[id].as_mut() else {
                    continue;
                };
                xor(&mut mix.data, &data);
                mix.lacks.retain(|i| *i != index);
                self.work += (mix.data.len() + mix.lacks.len() + 1) as u64;
                if mix.lacks.len() == 1 {
                    let mix = self.mixes[id].take().expect("just seen");
                    queue.push((mix.lacks[0], mix.data));
                }
            }
            self.fragments.insert(index, data);
        }
    }

    /// The fragments frame `sequence` mixes, or `None` for a mix of more
    /// than [`MAX_MIX_DEGREE`].
    fn choose(&mut self, sequence: usize) -> Option<Vec<u32>> {
        let count = self.shape.count;
        if sequence <= count {
            return Some(vec![(sequence - 1) as u32]);
        }
        let mut seed = [0u8; 8];
        // Sequence numbers above u32::MAX were refused by `frame`.
        seed[..4].copy_from_slice(&(sequence as u32).to_be_bytes());
        seed[4..].copy_from_slice(&self.shape.checksum.to_be_bytes());
        let mut rng = Xoshiro::from_hash(Sha256::digest(seed).into());
        let degrees = self.degrees.get_or_insert_with(|| {
            self.work += count as u64;
            Degrees::new(count)
        });
        let degree = degrees.draw(&mut rng);
        self.work += 1;
        if degree > MAX_MIX_DEGREE {
            return None;
        }
        // Drawing without replacement from the fragments not drawn yet:
        // the n-th remaining one is found by stepping over the drawn ones
        // below it (they are kept sorted), never by listing all `count`.
        let mut drawn: Vec<u32> = Vec::with_capacity(degree);
        let mut order = Vec::with_capacity(degree);
        for k in 0..degree {
            let mut pick = rng.below((count - k) as u64) as u32;
            for d in &drawn {
                if *d <= pick {
                    pick += 1;
                } else {
                    break;
                }
            }
            self.work += drawn.len() as u64 + 1;
            let at = drawn.partition_point(|d| *d < pick);
            drawn.insert(at, pick);
            order.push(pick);
        }
        Some(order)
    }

    /// The message, once every fragment is known: copied once, in order.
    pub(crate) fn message(&mut self) -> Option<Result<Vec<u8>, FountainError>> {
        if !self.is_complete() {
            return None;
        }
        let mut combined = Vec::with_capacity(self.shape.count * self.shape.fragment_len);
        for i in 0..self.shape.count as u32 {
            combined.extend_from_slice(self.fragments.get(&i)?);
        }
        self.work += combined.len() as u64;
        if combined[self.shape.message_len..].iter().any(|b| *b != 0) {
            return Some(Err(FountainError::Padding));
        }
        combined.truncate(self.shape.message_len);
        if crc32(&combined) != self.shape.checksum {
            return Some(Err(FountainError::Checksum));
        }
        Some(Ok(combined))
    }
}

fn xor(into: &mut [u8], other: &[u8]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a ^= b;
    }
}

/// xoshiro256**, seeded as the `ur` crate seeds it: the 32 bytes of a
/// sha256 read as four big-endian words.
struct Xoshiro {
    s: [u64; 4],
}

impl Xoshiro {
    fn from_hash(hash: [u8; 32]) -> Xoshiro {
        let mut s = [0u64; 4];
        for (i, word) in s.iter_mut().enumerate() {
            *word = u64::from_be_bytes(hash[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        }
        // An all-zero state (which rand_xoshiro would replace) needs a
        // sha256 of zero: not a case to handle.
        Xoshiro { s }
    }

    fn next(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    fn next_double(&mut self) -> f64 {
        ((self.next() >> 11) as f64) * (1.0 / ((1u64 << 53) as f64))
    }

    /// A number in `0..n`, as the crate's `next_int(0, n - 1)` draws it.
    fn below(&mut self, n: u64) -> u64 {
        (self.next_double() * n as f64) as u64
    }
}

/// The degree distribution (weights 1/d for d in 1..=count) as a Vose
/// alias table, built exactly as the `ur` crate builds it, so that the
/// same floating-point steps give the same degrees.
struct Degrees {
    probs: Vec<f64>,
    aliases: Vec<u32>,
}

impl Degrees {
    fn new(count: usize) -> Degrees {
        let mut weights: Vec<f64> = (1..=count).map(|x| 1.0 / x as f64).collect();
        let summed: f64 = weights.iter().sum();
        for w in &mut weights {
            *w *= count as f64 / summed;
        }
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (1..=count)
            .map(|j| count - j)
            .partition(|&j| weights[j] < 1.0);
        let mut probs = vec![0.0; count];
        let mut aliases = vec![0u32; count];
        while !small.is_empty() && !large.is_empty() {
            let a = small.pop().expect("not empty");
            let g = large.pop().expect("not empty");
            probs[a] = weights[a];
            aliases[a] = g as u32;
            weights[g] += weights[a] - 1.0;
            if weights[g] < 1.0 {
                small.push(g);
            } else {
                large.push(g);
            }
        }
        for g in large {
            probs[g] = 1.0;
        }
        for a in small {
            probs[a] = 1.0;
        }
        Degrees { probs, aliases }
    }

    fn draw(&self, rng: &mut Xoshiro) -> usize {
        let r1 = rng.next_double();
        let r2 = rng.next_double();
        let i = (self.probs.len() as f64 * r1) as usize;
        let picked = if r2 < self.probs[i] {
            i
        } else {
            self.aliases[i] as usize
        };
        picked + 1
    }
}

/// CRC-32 (ISO-HDLC, the one of zip and of BCR-2020-005).
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |c, b| {
        TABLE[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(message: &[u8], fragment_len: usize) -> Shape {
        Shape {
            count: message.len().div_ceil(fragment_len),
            message_len: message.len(),
            checksum: crc32(message),
            fragment_len,
        }
    }

    #[test]
    fn crc32_is_the_standard_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn fragments_are_chosen_as_the_ur_crate_chooses_them() {
        for len in [1usize, 7, 100, 999, 4000, 30_000] {
            let message: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut enc = ur::fountain::Encoder::new(&message, 50).unwrap();
            let count = enc.fragment_count();
            let frag_len = message.len().div_ceil(count);
            let mut f = Fountain::new(shape(&message, frag_len));
            for _ in 0..(3 * count + 20) {
                let part = enc.next_part();
                let ours = f.choose(enc.current_sequence());
                let theirs: Vec<u32> = part.indexes().iter().map(|i| *i as u32).collect();
                match ours {
                    Some(o) => assert_eq!(o, theirs, "len {len} seq {}", enc.current_sequence()),
                    None => assert!(theirs.len() > MAX_MIX_DEGREE),
                }
            }
        }
    }

    #[test]
    fn any_order_with_mixes_comes_back_whole() {
        let message: Vec<u8> = (0..20_000).map(|i| (i * 7 % 253) as u8).collect();
        let mut enc = ur::fountain::Encoder::new(&message, 100).unwrap();
        let count = enc.fragment_count();
        let frag_len = message.len().div_ceil(count);
        let mut f = Fountain::new(shape(&message, frag_len));
        let mut n = 0;
        while !f.is_complete() {
            let part = enc.next_part();
            n += 1;
            // Every third plain frame lost.
            if enc.current_sequence() <= count && n % 3 == 0 {
                continue;
            }
            f.receive(enc.current_sequence(), part.data());
            assert!(n < 20 * count, "no progress");
        }
        assert_eq!(f.message().unwrap().unwrap(), message);
    }

    #[test]
    fn a_wrong_checksum_is_found() {
        let message = b"hello, fountain".to_vec();
        let mut s = shape(&message, 4);
        s.checksum ^= 1;
        let mut f = Fountain::new(s);
        for (i, chunk) in message.chunks(4).enumerate() {
            let mut c = chunk.to_vec();
            c.resize(4, 0);
            f.receive(i + 1, &c);
        }
        assert_eq!(f.message(), Some(Err(FountainError::Checksum)));
    }
}
