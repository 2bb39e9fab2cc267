//! Just enough CBOR to read a fountain part (`[seq, count, length, crc,
//! data]`): unsigned integers and one byte string, definite lengths only.

use super::FrameError;

/// A cursor over the CBOR of one fountain part.
pub(crate) struct Cbor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cbor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Cbor<'a> {
        Cbor { bytes, pos: 0 }
    }

    pub(crate) fn byte(&mut self) -> Result<u8, FrameError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| FrameError::Malformed("truncated fountain part".into()))?;
        self.pos += 1;
        Ok(b)
    }

    /// An item head of major type `major`; returns its argument.
    fn head(&mut self, major: u8) -> Result<u64, FrameError> {
        let b = self.byte()?;
        if b >> 5 != major {
            return Err(FrameError::Malformed(
                "unexpected item in the fountain part".into(),
            ));
        }
        let n = match b & 0x1f {
            v @ 0..=23 => return Ok(u64::from(v)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => {
                return Err(FrameError::Malformed(
                    "indefinite or reserved length in the fountain part".into(),
                ))
            }
        };
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 8) | u64::from(self.byte()?);
        }
        Ok(v)
    }

    pub(crate) fn uint(&mut self) -> Result<u64, FrameError> {
        self.head(0)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], FrameError> {
        let len = self.head(2)?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| self.pos.checked_add(l))
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| FrameError::Malformed("truncated fountain part".into()))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
}
