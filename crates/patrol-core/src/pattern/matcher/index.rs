//! The per-field key indexes of [`super::Matcher`]: interned exact values, prefixes and
//! suffixes by length, ignore-case forms and numbers, each entry with the 64-bit summary
//! of what its branch needs; and the operators that cannot be hashed, tested in a short
//! list per field.

use rustc_hash::FxHashMap;

use super::super::cidr::{IpRange, parse_ip};
use super::super::op::Op;
use super::super::value::Scalar;

/// A constraint's operator that is not an interned exact value.
#[derive(Debug, Clone)]
pub(super) enum COp {
    /// `cidr`, or the other spellings of an IP-address literal (its own spelling is an
    /// interned value): tested against the leaf's address, parsed once per event.
    Ip(IpRange),
    Prefix(Box<str>),
    Suffix(Box<str>),
    Exists,
    Op(Box<Op>),
}

/// A branch in a key index, with what it needs ([`sig_bit`]s).
#[derive(Debug, Clone, Copy)]
pub(super) struct Posting {
    pub(super) branch: u32,
    pub(super) needs: u64,
}

pub(super) type Ids = Vec<Posting>;

/// One bit of a 64-bit summary: a field is present ([`TAG_PRESENT`]), a leaf of it has
/// value id `tag`, or starts with prefix `tag & !TAG_PREFIX`. A branch is dropped when the
/// event lacks one of its bits; bits that collide only keep a branch that then fails.
#[inline(always)]
pub(super) fn sig_bit(field: u32, tag: u32) -> u64 {
    let h = ((u64::from(field) << 32) | u64::from(tag)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1 << (h >> 58)
}

pub(super) const TAG_PRESENT: u32 = u32::MAX;
pub(super) const TAG_PREFIX: u32 = 1 << 31;

/// Value ids of the scalars that are not strings or numbers; interned values follow.
pub(super) const VID_TRUE: u32 = 0;
pub(super) const VID_FALSE: u32 = 1;
pub(super) const VID_NULL: u32 = 2;
pub(super) const VID_FIRST: u32 = 3;
/// A leaf value that no constraint names exactly.
pub(super) const VID_NONE: u32 = u32::MAX;

/// An interned value: its id, and the branches whose key it satisfies.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) vid: u32,
    pub(super) keys: Ids,
}

impl Entry {
    /// A new value, numbered from `next` (a field's count of interned values).
    pub(super) fn new(next: &mut u32) -> Entry {
        let vid = VID_FIRST + *next;
        *next += 1;
        Entry {
            vid,
            keys: Vec::new(),
        }
    }
}

/// Key constraints on one field, by the kind of value they need, and the field's
/// dictionary of exact values.
#[derive(Debug, Clone, Default)]
pub(super) struct FieldIndex {
    pub(super) exact: FxHashMap<Box<str>, Entry>,
    pub(super) numbers: FxHashMap<u64, Entry>,
    /// How many values `exact` and `numbers` hold.
    pub(super) next_vid: u32,
    pub(super) trues: Ids,
    pub(super) falses: Ids,
    pub(super) nulls: Ids,
    /// Prefixes that are keys or a constraint's only operator, numbered by `next_prefix`.
    pub(super) prefix: Vec<(usize, FxHashMap<Box<str>, Entry>)>,
    pub(super) next_prefix: u32,
    /// The same prefixes when they are few ([`FEW_PREFIXES`]), tested one by one on
    /// their first word (a mask and its bytes) instead of one hash lookup per length.
    pub(super) prefix_few: Vec<(u64, u64, Entry, Box<str>)>,
    pub(super) suffix: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    pub(super) prefix_ic: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    pub(super) suffix_ic: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    pub(super) equals_ic: FxHashMap<Box<str>, Ids>,
    /// Some key ignores case (then a probe lowercases the value).
    pub(super) has_ic: bool,
    /// Keys tested one by one: a value id it accepts (or [`VID_NONE`]) and an operator.
    pub(super) linear: Vec<(u32, COp, Posting)>,
}

pub(super) fn num_key(v: f64) -> u64 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

pub(super) fn by_len(list: &mut Vec<(usize, FxHashMap<Box<str>, Ids>)>, s: &str, p: Posting) {
    let len = s.len();
    let pos = match list.iter().position(|(l, _)| *l == len) {
        Some(p) => p,
        None => {
            list.push((len, FxHashMap::default()));
            list.len() - 1
        }
    };
    list[pos].1.entry(s.into()).or_default().push(p);
}

/// Up to this many prefixes on a field are tested one by one.
pub(super) const FEW_PREFIXES: usize = 16;

/// The first 8 bytes of `s`, zero-padded, as a little-endian word.
#[inline(always)]
pub(super) fn first_word(s: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = s.len().min(8);
    w[..n].copy_from_slice(&s[..n]);
    u64::from_le_bytes(w)
}

impl FieldIndex {
    /// Picks how the field's prefixes are probed, once all are known.
    pub(super) fn finish(&mut self) {
        self.has_ic =
            !self.prefix_ic.is_empty() || !self.suffix_ic.is_empty() || !self.equals_ic.is_empty();
        let count: usize = self.prefix.iter().map(|(_, m)| m.len()).sum();
        if count <= FEW_PREFIXES {
            for (_, map) in std::mem::take(&mut self.prefix) {
                for (p, e) in map {
                    let n = p.len().min(8);
                    let mask = if n == 8 {
                        u64::MAX
                    } else {
                        (1u64 << (8 * n)) - 1
                    };
                    self.prefix_few.push((first_word(p.as_bytes()), mask, e, p));
                }
            }
        }
    }

    pub(super) fn prefix_entry(&mut self, s: &str) -> &mut Entry {
        let len = s.len();
        let pos = match self.prefix.iter().position(|(l, _)| *l == len) {
            Some(p) => p,
            None => {
                self.prefix.push((len, FxHashMap::default()));
                self.prefix.len() - 1
            }
        };
        let next = &mut self.next_prefix;
        self.prefix[pos].1.entry(s.into()).or_insert_with(|| {
            let e = Entry::new(next);
            Entry {
                vid: e.vid | TAG_PREFIX,
                keys: e.keys,
            }
        })
    }

    /// The summary bit that a constraint whose only operator is `op` needs, if any.
    pub(super) fn guard(&mut self, field: u32, op: &Op) -> u64 {
        match op {
            Op::Str { ip: None, .. } | Op::Num { .. } | Op::Bool(_) | Op::Null => {
                match self.intern(op) {
                    (Some(vid), None) => sig_bit(field, vid),
                    _ => 0,
                }
            }
            Op::Prefix {
                value,
                ignore_case: false,
                ..
            } => sig_bit(field, self.prefix_entry(value).vid),
            _ => 0,
        }
    }

    pub(super) fn str_entry(&mut self, s: &str) -> &mut Entry {
        let next = &mut self.next_vid;
        self.exact
            .entry(s.into())
            .or_insert_with(|| Entry::new(next))
    }

    pub(super) fn num_entry(&mut self, v: f64) -> &mut Entry {
        let next = &mut self.next_vid;
        self.numbers
            .entry(num_key(v))
            .or_insert_with(|| Entry::new(next))
    }

    /// The id of a value an exact op names, if `op` is one; an IP-address literal also
    /// gives the operator that matches its other spellings.
    pub(super) fn intern(&mut self, op: &Op) -> (Option<u32>, Option<COp>) {
        match op {
            Op::Str { value, ip } => (Some(self.str_entry(value).vid), ip.map(COp::Ip)),
            Op::Num { value, .. } => (Some(self.num_entry(*value).vid), None),
            Op::Bool(true) => (Some(VID_TRUE), None),
            Op::Bool(false) => (Some(VID_FALSE), None),
            Op::Null => (Some(VID_NULL), None),
            Op::Cidr { range, .. } => (None, Some(COp::Ip(*range))),
            Op::Prefix {
                value,
                ignore_case: false,
                ..
            } => (None, Some(COp::Prefix(value.as_str().into()))),
            Op::Suffix {
                value,
                ignore_case: false,
                ..
            } => (None, Some(COp::Suffix(value.as_str().into()))),
            Op::Exists => (None, Some(COp::Exists)),
            other => (None, Some(COp::Op(Box::new(other.clone())))),
        }
    }

    pub(super) fn add(&mut self, op: &Op, p: Posting) {
        match op {
            Op::Str { value, ip: None } => self.str_entry(value).keys.push(p),
            Op::Num { value, .. } => self.num_entry(*value).keys.push(p),
            Op::Bool(true) => self.trues.push(p),
            Op::Bool(false) => self.falses.push(p),
            Op::Null => self.nulls.push(p),
            Op::Prefix {
                value,
                ignore_case: false,
                ..
            } => self.prefix_entry(value).keys.push(p),
            Op::Prefix {
                value,
                ignore_case: true,
                ..
            } => by_len(&mut self.prefix_ic, value, p),
            Op::Suffix {
                value,
                ignore_case: false,
                ..
            } => by_len(&mut self.suffix, value, p),
            Op::Suffix {
                value,
                ignore_case: true,
                ..
            } => by_len(&mut self.suffix_ic, value, p),
            Op::EqualsIgnoreCase { lower, .. } => {
                self.equals_ic
                    .entry(lower.as_str().into())
                    .or_default()
                    .push(p);
            }
            other => {
                let (vid, cop) = self.intern(other);
                if let Some(cop) = cop {
                    self.linear.push((vid.unwrap_or(VID_NONE), cop, p));
                }
            }
        }
    }

    /// The value's id, and the branches whose key it satisfies (maybe with repeats)
    /// passed to `hit`.
    #[inline]
    pub(super) fn probe(
        &self,
        field: u32,
        v: &Scalar<'_>,
        ip: &mut IpCache,
        sig: &mut u64,
        hit: &mut impl FnMut(&[Posting]),
    ) -> u32 {
        let mut vid = VID_NONE;
        match v {
            Scalar::Str(s) => {
                let s: &str = s;
                if let Some(e) = self.exact.get(s) {
                    vid = e.vid;
                    hit(&e.keys);
                }
                if !self.prefix_few.is_empty() {
                    let b = s.as_bytes();
                    let word = first_word(b);
                    for (w, mask, e, p) in &self.prefix_few {
                        if word & mask == *w
                            && b.len() >= p.len()
                            && (p.len() <= 8 || starts_with(b, p.as_bytes()))
                        {
                            *sig |= sig_bit(field, e.vid);
                            hit(&e.keys);
                        }
                    }
                }
                for (len, map) in &self.prefix {
                    if let Some(e) = s.get(..*len).and_then(|p| map.get(p)) {
                        *sig |= sig_bit(field, e.vid);
                        hit(&e.keys);
                    }
                }
                probe_suffixes(&self.suffix, s, hit);
                if self.has_ic {
                    let folded = super::super::fold::fold(s);
                    if let Some(ids) = self.equals_ic.get(&*folded) {
                        hit(ids);
                    }
                    probe_prefixes(&self.prefix_ic, &folded, hit);
                    probe_suffixes(&self.suffix_ic, &folded, hit);
                }
            }
            Scalar::Num(Some(x)) => {
                if let Some(e) = self.numbers.get(&num_key(*x)) {
                    vid = e.vid;
                    hit(&e.keys);
                }
            }
            Scalar::Num(None) => {}
            Scalar::Bool(true) => {
                vid = VID_TRUE;
                hit(&self.trues);
            }
            Scalar::Bool(false) => {
                vid = VID_FALSE;
                hit(&self.falses);
            }
            Scalar::Null => {
                vid = VID_NULL;
                hit(&self.nulls);
            }
        }
        for (want, op, p) in &self.linear {
            if (*want != VID_NONE && *want == vid) || op.matches(v, ip) {
                hit(std::slice::from_ref(p));
            }
        }
        vid
    }
}

#[inline(always)]
pub(super) fn probe_prefixes(
    list: &[(usize, FxHashMap<Box<str>, Ids>)],
    s: &str,
    hit: &mut impl FnMut(&[Posting]),
) {
    for (len, map) in list {
        if let Some(ids) = s.get(..*len).and_then(|p| map.get(p)) {
            hit(ids);
        }
    }
}

#[inline(always)]
pub(super) fn probe_suffixes(
    list: &[(usize, FxHashMap<Box<str>, Ids>)],
    s: &str,
    hit: &mut impl FnMut(&[Posting]),
) {
    for (len, map) in list {
        if let Some(ids) = s
            .len()
            .checked_sub(*len)
            .and_then(|start| s.get(start..))
            .and_then(|p| map.get(p))
        {
            hit(ids);
        }
    }
}

/// A leaf's IP address, parsed when an operator first asks for it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum IpCache {
    #[default]
    Unknown,
    NotIp,
    Ip(bool, u128),
}

impl COp {
    #[inline]
    pub(super) fn matches(&self, v: &Scalar<'_>, ip: &mut IpCache) -> bool {
        match self {
            COp::Ip(range) => {
                let Scalar::Str(s) = v else {
                    return false;
                };
                if let IpCache::Unknown = ip {
                    *ip = match parse_ip(s) {
                        Some((v6, a)) => IpCache::Ip(v6, a),
                        None => IpCache::NotIp,
                    };
                }
                match *ip {
                    IpCache::Ip(v6, a) => range.v6 == v6 && range.lo <= a && a <= range.hi,
                    _ => false,
                }
            }
            COp::Prefix(p) => {
                matches!(v, Scalar::Str(s) if starts_with(s.as_bytes(), p.as_bytes()))
            }
            COp::Suffix(p) => matches!(v, Scalar::Str(s) if ends_with(s.as_bytes(), p.as_bytes())),
            COp::Exists => true,
            COp::Op(op) => op.matches(v),
        }
    }
}

/// `s.starts_with(p)`, inline: patterns' prefixes are short, and a call to `memcmp`
/// costs more than comparing them.
#[inline(always)]
pub(super) fn starts_with(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s.iter().zip(p).all(|(a, b)| a == b)
}

#[inline(always)]
pub(super) fn ends_with(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[s.len() - p.len()..].iter().zip(p).all(|(a, b)| a == b)
}
