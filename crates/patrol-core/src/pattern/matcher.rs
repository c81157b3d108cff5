//! Many patterns compiled into one matcher.
//!
//! Each `$or` branch of each pattern gets one *key* constraint, its most selective one
//! (exact values that few other branches share beat prefixes, which beat operators that
//! need evaluating). Key values go into per-field hash indexes (exact strings, numbers,
//! prefixes and suffixes by length, ignore-case forms); what cannot be hashed (wildcard,
//! anything-but, numeric, cidr, exists, IP literals) is tested in a short per-field list.
//! An event is read once ([`super::scan`]), only along the fields some pattern names; its
//! leaves probe the key indexes, and only the branches whose key hit are evaluated in
//! full, so the cost follows the number of plausible rules, not of all rules. Branches
//! with nothing but `exists: false` have no key and are evaluated for every event.
//! Array consistency uses the same search as the reference interpreter, and only when a
//! candidate actually involves array elements or absent fields.
//!
//! Evaluating a candidate is kept cheap because most candidates fail:
//! - every exact value a constraint names is interned per field, and the lookup that
//!   probes a leaf's key index also gives the leaf's value id, so exact values are
//!   compared as integers;
//! - each index entry carries a 64-bit summary of what its branch needs (its fields
//!   present, the values of its single-value constraints, its single prefixes), and the
//!   event gets the same summary of what it has, so most branches that cannot match are
//!   dropped without being read;
//! - per event, each field's leaves are found in O(1) (a table stamped with the event's
//!   generation, never cleared), and an event's IP address is parsed once per leaf;
//! - the key constraint is not re-checked when its field sits in no array (the probe that
//!   made the branch a candidate already proved it).

use super::cidr::{IpRange, parse_ip};
use super::flatten::solve;
use super::op::Op;
use super::scan::{Scan, ScanLeaf, Trie, scan, scan_value};
use super::value::Scalar;
use super::{EventError, Pattern};
use rustc_hash::FxHashMap;

/// Many patterns compiled into one matcher; ids are the insertion indices.
#[derive(Debug, Clone)]
pub struct Matcher {
    trie: Trie,
    fields: Vec<FieldIndex>,
    branches: Vec<CBranch>,
    /// All branches' constraints, each branch's contiguous.
    constraints: Vec<CConstraint>,
    /// The value ids that constraints accept ([`CConstraint::vals`] ranges into it).
    vals: Vec<u32>,
    /// The operators that constraints evaluate ([`CConstraint::ops`] ranges into it).
    ops: Vec<COp>,
    /// Branches without a key: evaluated for every event.
    always: Vec<Posting>,
    patterns: usize,
}

#[derive(Debug, Clone)]
struct CBranch {
    pattern: u32,
    constraints: (u32, u32),
    /// The pattern has other branches: a match is recorded per pattern.
    shared: bool,
}

#[derive(Debug, Clone)]
struct CConstraint {
    field: u32,
    /// Ranges into [`Matcher::vals`] and [`Matcher::ops`].
    vals: (u32, u32),
    ops: (u32, u32),
    absent_ok: bool,
    /// The branch's key: some leaf satisfied it when the branch became a candidate.
    key: bool,
}

/// A constraint's operator that is not an interned exact value.
#[derive(Debug, Clone)]
enum COp {
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
struct Posting {
    branch: u32,
    needs: u64,
}

type Ids = Vec<Posting>;

/// One bit of a 64-bit summary: a field is present ([`TAG_PRESENT`]), a leaf of it has
/// value id `tag`, or starts with prefix `tag & !TAG_PREFIX`. A branch is dropped when the
/// event lacks one of its bits; bits that collide only keep a branch that then fails.
#[inline(always)]
fn sig_bit(field: u32, tag: u32) -> u64 {
    let h = ((u64::from(field) << 32) | u64::from(tag)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1 << (h >> 58)
}

const TAG_PRESENT: u32 = u32::MAX;
const TAG_PREFIX: u32 = 1 << 31;

/// Value ids of the scalars that are not strings or numbers; interned values follow.
const VID_TRUE: u32 = 0;
const VID_FALSE: u32 = 1;
const VID_NULL: u32 = 2;
const VID_FIRST: u32 = 3;
/// A leaf value that no constraint names exactly.
const VID_NONE: u32 = u32::MAX;

/// An interned value: its id, and the branches whose key it satisfies.
#[derive(Debug, Clone)]
struct Entry {
    vid: u32,
    keys: Ids,
}

impl Entry {
    /// A new value, numbered from `next` (a field's count of interned values).
    fn new(next: &mut u32) -> Entry {
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
struct FieldIndex {
    exact: FxHashMap<Box<str>, Entry>,
    numbers: FxHashMap<u64, Entry>,
    /// How many values `exact` and `numbers` hold.
    next_vid: u32,
    trues: Ids,
    falses: Ids,
    nulls: Ids,
    /// Prefixes that are keys or a constraint's only operator, numbered by `next_prefix`.
    prefix: Vec<(usize, FxHashMap<Box<str>, Entry>)>,
    next_prefix: u32,
    /// The same prefixes when they are few ([`FEW_PREFIXES`]), tested one by one on
    /// their first word (a mask and its bytes) instead of one hash lookup per length.
    prefix_few: Vec<(u64, u64, Entry, Box<str>)>,
    suffix: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    prefix_ic: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    suffix_ic: Vec<(usize, FxHashMap<Box<str>, Ids>)>,
    equals_ic: FxHashMap<Box<str>, Ids>,
    /// Some key ignores case (then a probe lowercases the value).
    has_ic: bool,
    /// Keys tested one by one: a value id it accepts (or [`VID_NONE`]) and an operator.
    linear: Vec<(u32, COp, Posting)>,
}

fn num_key(v: f64) -> u64 {
    if v == 0.0 { 0 } else { v.to_bits() }
}

fn by_len(list: &mut Vec<(usize, FxHashMap<Box<str>, Ids>)>, s: &str, p: Posting) {
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
const FEW_PREFIXES: usize = 16;

/// The first 8 bytes of `s`, zero-padded, as a little-endian word.
#[inline(always)]
fn first_word(s: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = s.len().min(8);
    w[..n].copy_from_slice(&s[..n]);
    u64::from_le_bytes(w)
}

impl FieldIndex {
    /// Picks how the field's prefixes are probed, once all are known.
    fn finish(&mut self) {
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

    fn prefix_entry(&mut self, s: &str) -> &mut Entry {
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
    fn guard(&mut self, field: u32, op: &Op) -> u64 {
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

    fn str_entry(&mut self, s: &str) -> &mut Entry {
        let next = &mut self.next_vid;
        self.exact
            .entry(s.into())
            .or_insert_with(|| Entry::new(next))
    }

    fn num_entry(&mut self, v: f64) -> &mut Entry {
        let next = &mut self.next_vid;
        self.numbers
            .entry(num_key(v))
            .or_insert_with(|| Entry::new(next))
    }

    /// The id of a value an exact op names, if `op` is one; an IP-address literal also
    /// gives the operator that matches its other spellings.
    fn intern(&mut self, op: &Op) -> (Option<u32>, Option<COp>) {
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

    fn add(&mut self, op: &Op, p: Posting) {
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
    fn probe(
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
                    let folded = super::fold::fold(s);
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
fn probe_prefixes(
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
fn probe_suffixes(
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
enum IpCache {
    #[default]
    Unknown,
    NotIp,
    Ip(bool, u128),
}

impl COp {
    #[inline]
    fn matches(&self, v: &Scalar<'_>, ip: &mut IpCache) -> bool {
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
fn starts_with(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s.iter().zip(p).all(|(a, b)| a == b)
}

#[inline(always)]
fn ends_with(s: &[u8], p: &[u8]) -> bool {
    s.len() >= p.len() && s[s.len() - p.len()..].iter().zip(p).all(|(a, b)| a == b)
}

/// How costly a constraint is as a key: about how many branches its values wake up.
fn key_cost(ops: &[Op], path: &str, freq: &FxHashMap<String, u32>) -> u64 {
    ops.iter()
        .map(|op| match op {
            Op::Str { ip: None, .. }
            | Op::Num { .. }
            | Op::Bool(_)
            | Op::Null
            | Op::EqualsIgnoreCase { .. } => {
                u64::from(freq.get(&op_key(path, op)).copied().unwrap_or(1))
            }
            Op::Prefix { value, .. } | Op::Suffix { value, .. } => {
                u64::from(freq.get(&op_key(path, op)).copied().unwrap_or(1)) * 4
                    + if value.is_empty() { 100_000 } else { 0 }
            }
            Op::Exists | Op::AnythingBut { .. } => 1_000_000,
            _ => 10_000,
        })
        .sum()
}

fn op_key(path: &str, op: &Op) -> String {
    format!("{path}\u{0}{}", op.to_json())
}

/// Where a field's leaves are in the sorted leaves of the event stamped `generation`.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    generation: u32,
    lo: u32,
    hi: u32,
    /// Some leaf of the field sits in an array.
    in_array: bool,
}

/// Per-event working state, kept between events. Tables indexed by field, branch or
/// pattern are stamped with the event's generation instead of being cleared, so an event
/// costs what it touches; one set serves every matcher of the thread.
#[derive(Debug, Default)]
struct Work {
    generation: u32,
    slots: Vec<Slot>,
    /// Generation in which each branch became a candidate.
    seen: Vec<u32>,
    /// Generation in which each pattern matched.
    matched: Vec<u32>,
    cands: Vec<Posting>,
    /// Per sorted leaf.
    info: Vec<LeafInfo>,
}

/// What matching learns about a leaf once, for all the constraints that test it.
#[derive(Debug, Clone, Copy)]
struct LeafInfo {
    vid: u32,
    ip: IpCache,
}

impl Work {
    /// Starts an event: a new generation, tables big enough for `m`.
    fn start(&mut self, m: &Matcher, leaves: usize) {
        if self.generation == u32::MAX {
            self.generation = 0;
            self.slots.iter_mut().for_each(|s| s.generation = 0);
            self.seen.iter_mut().for_each(|g| *g = 0);
            self.matched.iter_mut().for_each(|g| *g = 0);
        }
        self.generation += 1;
        if self.slots.len() < m.fields.len() {
            self.slots.resize(m.fields.len(), Slot::default());
        }
        if self.seen.len() < m.branches.len() {
            self.seen.resize(m.branches.len(), 0);
        }
        if self.matched.len() < m.patterns {
            self.matched.resize(m.patterns, 0);
        }
        self.cands.clear();
        self.info.clear();
        self.info.resize(
            leaves,
            LeafInfo {
                vid: VID_NONE,
                ip: IpCache::Unknown,
            },
        );
    }

    /// The leaves of `field` (a range of the sorted leaves) and whether any is in an array.
    #[inline]
    fn leaves_of(&self, field: u32) -> (usize, usize, bool) {
        let s = self.slots[field as usize];
        if s.generation == self.generation {
            (s.lo as usize, s.hi as usize, s.in_array)
        } else {
            (0, 0, false)
        }
    }
}

/// Per-thread buffers kept between events, so that matching allocates only its answer.
#[derive(Debug, Default)]
struct Buffers {
    scan: Scan<'static>,
    work: Work,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers::default());
}

/// Sorts leaves by field, keeping event order within a field: an insertion sort, as an
/// event has only a handful of leaves.
fn sort_leaves(leaves: &mut [ScanLeaf<'_>]) {
    if leaves.len() > 32 {
        leaves.sort_by_key(|l| l.field);
        return;
    }
    for i in 1..leaves.len() {
        let mut j = i;
        while j > 0 && leaves[j - 1].field > leaves[j].field {
            leaves.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl Matcher {
    pub fn new(patterns: &[Pattern]) -> Matcher {
        let mut field_ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut trie = Trie::new();
        let mut freq: FxHashMap<String, u32> = FxHashMap::default();
        for p in patterns {
            for b in p.branches() {
                for c in b {
                    if !field_ids.contains_key(&c.path) {
                        let id = u32::try_from(field_ids.len()).unwrap_or(u32::MAX);
                        field_ids.insert(c.path.clone(), id);
                        trie.insert(&c.path, id);
                    }
                    for op in &c.ops {
                        *freq.entry(op_key(&c.path, op)).or_default() += 1;
                    }
                }
            }
        }
        let mut m = Matcher {
            trie,
            fields: vec![FieldIndex::default(); field_ids.len()],
            branches: Vec::new(),
            constraints: Vec::new(),
            vals: Vec::new(),
            ops: Vec::new(),
            always: Vec::new(),
            patterns: patterns.len(),
        };
        let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        for (pid, p) in patterns.iter().enumerate() {
            let shared = p.branches().len() > 1;
            for b in p.branches() {
                let id = to_u32(m.branches.len());
                let first = m.constraints.len();
                let mut needs = 0;
                for c in b {
                    let field = field_ids.get(&c.path).copied().unwrap_or(0);
                    let index = &mut m.fields[field as usize];
                    if let ([op], false) = (c.ops.as_slice(), c.absent_ok) {
                        needs |= index.guard(field, op);
                    }
                    let (vals_start, ops_start) = (m.vals.len(), m.ops.len());
                    for op in &c.ops {
                        let (vid, cop) = index.intern(op);
                        m.vals.extend(vid);
                        m.ops.extend(cop);
                    }
                    if !c.absent_ok {
                        needs |= sig_bit(field, TAG_PRESENT);
                    }
                    m.constraints.push(CConstraint {
                        field,
                        vals: (to_u32(vals_start), to_u32(m.vals.len())),
                        ops: (to_u32(ops_start), to_u32(m.ops.len())),
                        absent_ok: c.absent_ok,
                        key: false,
                    });
                }
                let key = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| !c.absent_ok && !c.ops.is_empty())
                    .min_by_key(|(_, c)| key_cost(&c.ops, &c.path, &freq))
                    .map(|(i, _)| i);
                let posting = Posting { branch: id, needs };
                match key {
                    Some(k) => {
                        m.constraints[first + k].key = true;
                        let field = m.constraints[first + k].field;
                        for op in &b[k].ops {
                            m.fields[field as usize].add(op, posting);
                        }
                    }
                    None => m.always.push(posting),
                }
                m.branches.push(CBranch {
                    pattern: to_u32(pid),
                    constraints: (to_u32(first), to_u32(m.constraints.len())),
                    shared,
                });
            }
        }
        for f in &mut m.fields {
            f.finish();
        }
        m
    }

    /// Ids of the matching patterns, ascending.
    pub fn matches(&self, event: &serde_json::Value) -> Vec<usize> {
        let mut s = Scan::default();
        scan_value(&self.trie, event, &mut s);
        sort_leaves(&mut s.leaves);
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => self.run_with(&s, &mut bufs.work),
            Err(_) => self.run_with(&s, &mut Work::default()),
        })
    }

    /// Like [`Matcher::matches`], from the event's raw JSON bytes. Fields that no pattern
    /// names are skipped without being fully validated.
    pub fn matches_json(&self, event: &[u8]) -> Result<Vec<usize>, EventError> {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => self.matches_json_in(event, &mut bufs),
            Err(_) => self.matches_json_in(event, &mut Buffers::default()),
        })
    }

    fn matches_json_in(&self, event: &[u8], bufs: &mut Buffers) -> Result<Vec<usize>, EventError> {
        let mut s = std::mem::take(&mut bufs.scan).recycle();
        let found = scan(&self.trie, event, &mut s).map(|()| {
            sort_leaves(&mut s.leaves);
            self.run_with(&s, &mut bufs.work)
        });
        bufs.scan = s.recycle();
        found
    }

    /// Matches the leaves of `s`, sorted by field.
    fn run_with(&self, s: &Scan<'_>, w: &mut Work) -> Vec<usize> {
        let leaves = &s.leaves;
        w.start(self, leaves.len());
        let generation = w.generation;
        // In one pass: where each field's leaves are, which fields the event has, each
        // leaf's value id, and the branches whose key some leaf satisfies.
        let mut present = 0u64;
        let Work {
            slots,
            seen,
            cands,
            info,
            ..
        } = w;
        let mut hit = |ps: &[Posting]| {
            for p in ps {
                if let Some(g) = seen.get_mut(p.branch as usize)
                    && *g != generation
                {
                    *g = generation;
                    cands.push(*p);
                }
            }
        };
        for (i, leaf) in leaves.iter().enumerate() {
            let (Some(index), Some(slot)) = (
                self.fields.get(leaf.field as usize),
                slots.get_mut(leaf.field as usize),
            ) else {
                continue;
            };
            let at = u32::try_from(i).unwrap_or(u32::MAX);
            if slot.generation == generation {
                slot.hi = at + 1;
                slot.in_array |= leaf.mem_len > 0;
            } else {
                *slot = Slot {
                    generation,
                    lo: at,
                    hi: at + 1,
                    in_array: leaf.mem_len > 0,
                };
            }
            let info = &mut info[i];
            info.vid = index.probe(
                leaf.field,
                &leaf.value,
                &mut info.ip,
                &mut present,
                &mut hit,
            );
            present |= sig_bit(leaf.field, TAG_PRESENT);
            if info.vid != VID_NONE {
                present |= sig_bit(leaf.field, info.vid);
            }
        }
        hit(&self.always);
        let mut out: Vec<usize> = Vec::new();
        for k in 0..w.cands.len() {
            let p = w.cands[k];
            if p.needs & !present != 0 {
                continue;
            }
            let branch = &self.branches[p.branch as usize];
            let pid = branch.pattern as usize;
            if branch.shared && w.matched[pid] == generation {
                continue;
            }
            if self.eval(branch, s, w) {
                if branch.shared {
                    w.matched[pid] = generation;
                }
                out.push(pid);
            }
        }
        out.sort_unstable();
        out
    }

    /// Whether the sorted leaf `i` satisfies constraint `c`.
    #[inline(always)]
    fn accepts(&self, c: &CConstraint, leaf: &ScanLeaf<'_>, i: usize, w: &mut Work) -> bool {
        let info = &mut w.info[i];
        if info.vid != VID_NONE
            && self.vals[c.vals.0 as usize..c.vals.1 as usize].contains(&info.vid)
        {
            return true;
        }
        self.ops[c.ops.0 as usize..c.ops.1 as usize]
            .iter()
            .any(|op| op.matches(&leaf.value, &mut info.ip))
    }

    #[inline(always)]
    fn eval(&self, branch: &CBranch, s: &Scan<'_>, w: &mut Work) -> bool {
        let leaves = &s.leaves;
        let constraints =
            &self.constraints[branch.constraints.0 as usize..branch.constraints.1 as usize];
        let mut simple = true;
        for c in constraints {
            let (lo, hi, in_array) = w.leaves_of(c.field);
            if c.absent_ok {
                if lo < hi {
                    simple = false;
                }
                continue;
            }
            if c.key && !in_array {
                // The leaf that made this branch a candidate satisfies its key.
                continue;
            }
            let mut any = false;
            for (i, leaf) in (lo..hi).zip(&leaves[lo..hi]) {
                if self.accepts(c, leaf, i, w) {
                    any = true;
                    if leaf.mem_len > 0 {
                        simple = false;
                        break;
                    }
                    if !in_array {
                        break;
                    }
                }
            }
            if !any {
                return false;
            }
        }
        simple || self.eval_arrays(constraints, s, w)
    }

    /// The rest of [`Matcher::eval`] when a candidate involves array elements or absent
    /// fields: the reference interpreter's search.
    #[inline(never)]
    fn eval_arrays(&self, constraints: &[CConstraint], s: &Scan<'_>, w: &mut Work) -> bool {
        let leaves = &s.leaves;
        let mut cands = Vec::with_capacity(constraints.len());
        let mut at_path = Vec::with_capacity(constraints.len());
        let mut absent_ok = Vec::with_capacity(constraints.len());
        for c in constraints {
            let (lo, hi, _) = w.leaves_of(c.field);
            cands.push(
                (lo..hi)
                    .filter(|&i| self.accepts(c, &leaves[i], i, w))
                    .collect(),
            );
            at_path.push((lo..hi).collect());
            absent_ok.push(c.absent_ok);
        }
        let mem = |i: usize| -> &[(u32, u32)] { s.mem(&leaves[i]) };
        solve(&cands, &absent_ok, &at_path, &mem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pats(ps: &[serde_json::Value]) -> Vec<Pattern> {
        ps.iter()
            .map(|p| Pattern::parse(p).expect("valid"))
            .collect()
    }

    #[test]
    fn many_patterns_one_pass() {
        let m = Matcher::new(&pats(&[
            json!({"source": ["aws.iam"], "detail": {"eventName": ["CreateUser"]}}),
            json!({"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Create"}]}}),
            json!({"detail": {"eventName": [{"anything-but": "CreateUser"}]}}),
            json!({"detail": {"x": [{"exists": false}]}}),
            json!({"detail": {"eventName": [{"equals-ignore-case": "createuser"}]}}),
        ]));
        let e = br#"{"source":"aws.iam","detail":{"eventName":"CreateUser","big":{"a":[1,2,{"b":"\"}"}]}}}"#;
        assert_eq!(m.matches_json(e).expect("valid"), vec![0, 1, 3, 4]);
        let e = br#"{"source":"aws.iam","detail":{"eventName":"Create\u0055ser2","x":null}}"#;
        assert_eq!(m.matches_json(e).expect("valid"), vec![1, 2]);
    }

    #[test]
    fn escapes_dots_and_arrays_in_raw_events() {
        let m = Matcher::new(&pats(&[
            json!({"det": {"na me": ["é😀\"q"]}}),
            json!({"a": {"b": [{"numeric": [">", 1]}]}}),
            json!({"r": {"t": ["x"], "n": ["y"]}}),
        ]));
        let e = br#"{"d\u0065t": {"na\u0020me": "\u00e9\ud83d\ude00\"q"}}"#;
        assert_eq!(m.matches_json(e).expect("valid"), vec![0]);
        assert_eq!(m.matches_json(br#"{"a.b": 2}"#).expect("valid"), vec![1]);
        assert_eq!(
            m.matches_json(br#"{"a": [{"b": [0, 5]}]}"#).expect("valid"),
            vec![1]
        );
        let split = br#"{"r": [{"t": "x", "n": "z"}, {"t": "w", "n": "y"}]}"#;
        assert_eq!(m.matches_json(split).expect("valid"), Vec::<usize>::new());
        let same = br#"{"r": [{"t": "w", "n": "z"}, {"t": "x", "n": "y"}]}"#;
        assert_eq!(m.matches_json(same).expect("valid"), vec![2]);
        // Skipped parts may hold anything well-bracketed, including brackets in strings.
        let skipped = br#"{"zz": {"q": "}]\"{[", "w": [1, {"x": null}]}, "a": {"b": 3}}"#;
        assert_eq!(m.matches_json(skipped).expect("valid"), vec![1]);
    }

    #[test]
    fn raw_reader_agrees_on_awkward_text() {
        // Keys of 7, 8, 16 and 17 bytes (the reader compares key words), keys too near the
        // end of the input for a whole word, dots, escapes and skipped containers with
        // brackets, escapes, numbers and whitespace in them.
        let m = Matcher::new(&pats(&[
            json!({"k7abcde": ["v"]}),
            json!({"k8abcdef": ["v"]}),
            json!({"k16abcdefghijkl": ["v"]}),
            json!({"k17abcdefghijklm": ["v"]}),
            json!({"": ["v"]}),
            json!({"a": {"b": ["v"]}}),
            json!({"x": [{"exists": false}]}),
            json!({"n": [{"numeric": [">", 1]}]}),
            json!({"k7abcdf": ["v"]}),
            json!({"q\"k": ["v"]}),
            json!({"b\\s": ["v"]}),
            json!({"k16abcdefghijkl": {"z": ["v"]}}),
        ]));
        let events = [
            r#"{"k7abcde":"v","k8abcdef":"v","k16abcdefghijkl":"v","k17abcdefghijklm":"v"}"#,
            r#"{"k7abcdf":"v","k8abcdeg":"v","k16abcdefghijkm":"v","k17abcdefghijkln":"v"}"#,
            r#"{"k7abcd":"v","k7abcdef":"v","k16abcdefghijk":"v","k17abcdefghijklmn":"v"}"#,
            r#"{"":"v"}"#,
            r#"{"a":{"b":"v"}}"#,
            r#"{"a":{"b":"w"},"x":1}"#,
            r#"{"a.b":"v","n":2}"#,
            r#"{"k7abc\u0064e":"v","q\"k":"v","b\\s":"v"}"#,
            r#"{"q\\k":"v","b\"s":"v","k8abcde.":"v"}"#,
            r#"{"z":{"s":"}]\"{[\\","t":[1,2.5e3,-0,true,false,null,{"w":[]},"\\"]},"n":2,"a":{"b":"v"}}"#,
            r#"{"k16abcdefghijkl":{"y":{"z":"w"},"z":"v"},"k7abcde":["x","v"]}"#,
            r#"{"zz":[[[[]]],{"a":{"b":"v"}}],"x":{"k7abcde":"v"},"a":[{"b":"x"},{"b":"v"}]}"#,
        ];
        for text in events {
            let v: serde_json::Value = serde_json::from_str(text).expect("valid");
            let want = m.matches(&v);
            assert_eq!(
                m.matches_json(text.as_bytes()).expect("valid"),
                want,
                "{text}"
            );
            let pretty = serde_json::to_string_pretty(&v).expect("json");
            assert_eq!(
                m.matches_json(pretty.as_bytes()).expect("valid"),
                want,
                "{pretty}"
            );
            let spaced = text.replace(',', " ,\n\t").replace(':', " : ");
            assert_eq!(
                m.matches_json(spaced.as_bytes()).expect("valid"),
                want,
                "{spaced}"
            );
        }
        for bad in [
            r#"{"z":{"s":"abc}}"#,
            r#"{"z":[1,2}"#,
            r#"{"z":{"a":"\"#,
            r#"{"z":{"a":1}"#,
            r#"{"k7abcde"#,
            r#"{"k7abcde":"v""#,
            r#"{"a.b"#,
        ] {
            assert!(m.matches_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicate_keys_last_wins_in_raw_events() {
        // serde_json keeps the last of repeated keys; the raw reader used to keep both.
        let m = Matcher::new(&pats(&[
            json!({"a": ["x"]}),
            json!({"a": {"b": ["y"]}}),
            json!({"a": [{"exists": false}]}),
            json!({"r": {"t": ["x"]}}),
        ]));
        for (text, want) in [
            (r#"{"a":"x","a":"z"}"#, vec![]),
            (r#"{"a":"z","a":"x"}"#, vec![0]),
            (r#"{"a":{"b":"y"},"a":{"c":1}}"#, vec![2]),
            (r#"{"a":{"b":"y"},"a.b":"q","a":{"c":1}}"#, vec![2]),
            (r#"{"a":{"b":"q"},"a.b":"y"}"#, vec![1, 2]),
            (r#"{"a":{"b":"y","b":"n"}}"#, vec![2]),
            (r#"{"a":{"b":"n","\u0062":"y"}}"#, vec![1, 2]),
            (r#"{"\u0061":"x","a":[]}"#, vec![2]),
            (r#"{"r":[{"t":"x","t":"y"},{"t":"y","t":"x"}]}"#, vec![2, 3]),
        ] {
            let v: serde_json::Value = serde_json::from_str(text).expect("valid");
            assert_eq!(m.matches(&v), want, "{text}");
            assert_eq!(
                m.matches_json(text.as_bytes()).expect("valid"),
                want,
                "{text}"
            );
        }
    }

    #[test]
    fn huge_values_and_deep_nesting() {
        // The deep value sits at `a.a.….a.b`, inside 60 arrays of objects.
        let path = format!("{}b", "a.".repeat(61));
        let mut deep_pattern = serde_json::Map::new();
        deep_pattern.insert(path, json!(["v"]));
        let m = Matcher::new(&pats(&[
            serde_json::Value::Object(deep_pattern),
            json!({"s": [{"suffix": "end"}]}),
        ]));
        let long = format!(
            "{}\\\"{}end",
            "é\\u00e9 ".repeat(20_000),
            "x".repeat(70_000)
        );
        let mut deep = String::new();
        for _ in 0..60 {
            deep.push_str("[{\"a\": ");
        }
        deep.push_str("{\"b\": \"v\"}");
        for _ in 0..60 {
            deep.push_str("}]");
        }
        let text = format!(r#"{{"z": [{{"q": "{long}"}}], "s": "{long}", "a": {deep}}}"#);
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid");
        assert_eq!(m.matches(&v), vec![0, 1]);
        assert_eq!(m.matches_json(text.as_bytes()).expect("valid"), vec![0, 1]);
        let skipped = format!(r#"{{"z": {deep}, "s": "{long}x"}}"#);
        assert_eq!(
            m.matches_json(skipped.as_bytes()).expect("valid"),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn summaries_never_drop_a_match() {
        // Branches are dropped on a 64-bit summary of the values and prefixes they need;
        // the reference interpreter decides, over values that share prefixes, arrays,
        // IP spellings, numbers and `$or`.
        let ps = pats(&[
            json!({"s": ["x"], "n": [{"prefix": "De"}]}),
            json!({"s": ["x"], "n": [{"prefix": "Delete"}]}),
            json!({"s": ["x"], "n": ["DeleteUser"]}),
            json!({"s": ["y"], "n": [{"prefix": "DeleteUserAndMore"}]}),
            json!({"n": [{"prefix": ""}], "k": [5]}),
            json!({"n": [{"prefix": "a\u{0}"}]}),
            json!({"ip": ["10.0.0.1"], "s": ["x"]}),
            json!({"ip": [{"cidr": "10.0.0.0/24"}], "s": ["x", "y"]}),
            json!({"$or": [{"s": ["x"], "k": [5]}, {"n": [{"prefix": "Del"}], "b": [true]}]}),
            json!({"s": ["x"], "b": [false], "z": [null]}),
            json!({"s": ["x"], "n": [{"suffix": "User"}], "k": [{"numeric": [">", 1]}]}),
            json!({"s": ["x"], "m": [{"exists": false}]}),
        ]);
        let m = Matcher::new(&ps);
        let events = [
            json!({"s": "x", "n": "DeleteUser", "k": 5}),
            json!({"s": ["y", "x"], "n": ["Get", "DeleteUserAndMore"], "b": true}),
            json!({"s": "y", "n": "DeleteUserAndMor"}),
            json!({"s": "x", "n": "De", "ip": "010.000.000.001"}),
            json!({"s": "y", "ip": "10.0.0.77", "k": 5.0}),
            json!({"s": "x", "n": "a", "b": false, "z": null, "m": 1}),
            json!({"s": "x", "n": "a\u{0}b", "k": [0, 2]}),
            json!({"s": "x", "n": "", "k": -5}),
            json!({"r": [{"s": "x", "n": "Del"}], "s": "q"}),
            json!({"n": "Delete", "b": [false, true], "s": "z"}),
        ];
        for e in &events {
            let want: Vec<usize> = (0..ps.len()).filter(|&i| ps[i].matches(e)).collect();
            assert_eq!(m.matches(e), want, "{e}");
            assert_eq!(
                m.matches_json(e.to_string().as_bytes()).expect("valid"),
                want,
                "{e}"
            );
        }
    }

    #[test]
    fn event_errors() {
        let m = Matcher::new(&pats(&[json!({"a": [1]})]));
        assert_eq!(m.matches_json(b"[1]"), Err(EventError::NotAnObject));
        assert_eq!(m.matches_json(b"42"), Err(EventError::NotAnObject));
        assert!(matches!(
            m.matches_json(b"{\"a\": 1"),
            Err(EventError::Syntax { .. })
        ));
        assert!(matches!(
            m.matches_json(b"{\"a\": 1} x"),
            Err(EventError::Syntax { .. })
        ));
        assert!(matches!(
            m.matches_json(b"{\"b\": \"unterminated}"),
            Err(EventError::Syntax { .. })
        ));
        assert!(matches!(
            m.matches_json(b"{\"a\": 01}"),
            Err(EventError::Syntax { .. })
        ));
        assert_eq!(m.matches_json(b" {\"a\": 1.0e0} "), Ok(vec![0]));
        assert_eq!(
            m.matches_json(b"{\"a\": 1.00000000000000000001}"),
            Ok(vec![])
        );
    }
}
